"""Merge-on-read deltas: Iceberg v2 *position delete files*, written and committed here.

Why this module exists: an events delta changes ~0.1 % of a table's rows, spread over every
data file.  Copy-on-write rewrites each file that holds one changed row, i.e. the whole table.
The Iceberg v2 spec's answer is a position delete file: a small Parquet file of
``(file_path, pos)`` rows (reserved field ids 2147483546 and 2147483545, sorted by path then
position) saying "row ``pos`` of data file ``file_path`` is gone", committed together with a
small data file holding the new rows.  PyIceberg 0.12 *reads* position deletes (its scans
match them to data files, by exact path when a delete file's ``file_path`` bounds are equal),
DuckDB's and Spark's Iceberg readers do too, but PyIceberg cannot *write* them: its snapshot
producers only ever write data manifests.

What is written here, per the spec:

* one delete file per data file that lost rows (the data file's old positions merged with the
  new ones, so a reader opens at most one delete file per data file), with
  ``lower_bounds == upper_bounds == file_path``, so every reader can tell which data file it
  applies to without opening it (PyIceberg indexes it by path);
* a snapshot that replaces a wiki's partition on a branch by a given set of data and delete
  files, in one commit: :class:`ReplacePartition`.  Every file it keeps is re-added in the
  new snapshot, so data files and their delete files share the new data sequence number, and
  a position delete applies to a data file whose sequence number is less than or equal to its
  own (spec: "Scan planning").

PyIceberg internals this relies on (pin: ``pyiceberg==0.12.0`` in ``constraints.txt``; each is
exercised by ``tests/unit/lake/test_deletes.py``, which fails if one changes):

* ``pyiceberg.table.update.snapshot._SnapshotProducer``: its constructor, ``_commit`` (which
  calls ``_manifests`` and ``_summary`` and writes the manifest list), ``new_manifest_output``,
  ``_transaction``, ``_io``, ``_snapshot_id``, ``_parent_snapshot_id``, ``_target_branch``,
  ``_compression``; we override ``_manifests``, ``_summary``, ``_existing_manifests``,
  ``_deleted_entries`` and ``_validate_concurrency`` (our caller's ``AssertRefSnapshotId`` on
  the branch is the conflict check; wikivis retries the whole plan itself);
* ``pyiceberg.manifest.ManifestWriterV2``: ``content()`` and ``_meta`` (``"content":
  "deletes"`` in the Avro metadata), ``add`` / ``add_entry`` / ``to_manifest_file``;
* ``pyiceberg.table.snapshots.SnapshotSummaryCollector`` and ``update_snapshot_summaries``
  (the ``added-position-deletes`` … totals).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile, ManifestFile
    from pyiceberg.table import Table, Transaction

#: the spec's reserved field ids of a position delete file
FILE_PATH_ID = 2147483546
POS_ID = 2147483545

DELETE_SCHEMA = pa.schema([
    pa.field("file_path", pa.string(), nullable=False, metadata={b"PARQUET:field_id": str(FILE_PATH_ID).encode()}),
    pa.field("pos", pa.int64(), nullable=False, metadata={b"PARQUET:field_id": str(POS_ID).encode()}),
])


def write_position_deletes(table: Table, partition_value: str, data_path: str, positions: np.ndarray,
                           location: str) -> DataFile:
    """Write the delete file for ``positions`` (0-based rows) of the data file ``data_path``.

    Returns its :class:`DataFile` (content ``POSITION_DELETES``) with record count, size, and
    bounds on both columns: readers skip it for every other data file."""
    from pyiceberg.conversions import to_bytes
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
    from pyiceberg.typedef import Record
    from pyiceberg.types import LongType, StringType

    pos = np.unique(np.asarray(positions, dtype=np.int64))  # sorted, as the spec requires
    if not len(pos):
        raise ValueError(f"no positions to delete from {data_path}")
    rows = pa.Table.from_arrays([pa.array([data_path] * len(pos), pa.string()), pa.array(pos, pa.int64())],
                                schema=DELETE_SCHEMA)
    with table.io.new_output(location).create(overwrite=False) as fh:
        pq.write_table(rows, fh, compression="zstd")
    path_bytes = to_bytes(StringType(), data_path)
    data_file = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES, file_path=location, file_format=FileFormat.PARQUET,
        partition=Record(partition_value), record_count=len(pos),
        file_size_in_bytes=len(table.io.new_input(location)),
        column_sizes={}, value_counts={FILE_PATH_ID: len(pos), POS_ID: len(pos)},
        null_value_counts={FILE_PATH_ID: 0, POS_ID: 0}, nan_value_counts={},
        lower_bounds={FILE_PATH_ID: path_bytes, POS_ID: to_bytes(LongType(), int(pos[0]))},
        upper_bounds={FILE_PATH_ID: path_bytes, POS_ID: to_bytes(LongType(), int(pos[-1]))},
        split_offsets=None, equality_ids=None, sort_order_id=None, key_metadata=None,
    )
    data_file.spec_id = table.metadata.default_spec_id  # not a from_args field: a property set apart
    return data_file


def read_positions(io: FileIO, delete_files: Iterable[DataFile], data_path: str) -> np.ndarray:
    """The sorted, unique deleted positions of ``data_path`` in ``delete_files`` (any writer's:
    rows for other data files are filtered out)."""
    import pyarrow.compute as pc

    parts: list[np.ndarray] = []
    for delete_file in delete_files:
        with io.new_input(delete_file.file_path).open() as fh:
            rows = pq.read_table(fh, columns=["file_path", "pos"])
        if rows.num_rows:
            mine = rows.filter(pc.equal(rows.column("file_path"), data_path))
            parts.append(mine.column("pos").to_numpy().astype(np.int64, copy=False))
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(parts))


def live_mask(deleted: np.ndarray, start: int, length: int) -> np.ndarray | None:
    """A boolean mask over rows ``start .. start+length`` of a data file: False where deleted;
    None when nothing in that range is (the common case: no copy)."""
    lo, hi = np.searchsorted(deleted, [start, start + length])
    if lo == hi:
        return None
    mask = np.ones(length, dtype=bool)
    mask[deleted[lo:hi] - start] = False
    return mask


def _delete_manifest_writer(producer: Any, spec: Any) -> Any:
    """A v2 manifest writer whose manifest says ``content: deletes`` (PyIceberg has none)."""
    from pyiceberg.manifest import ManifestContent, ManifestWriterV2

    class _DeleteManifestWriterV2(ManifestWriterV2):
        def content(self) -> ManifestContent:
            return ManifestContent.DELETES

        @property
        def _meta(self) -> dict[str, str]:
            return {**super()._meta, "content": "deletes"}

    return _DeleteManifestWriterV2(spec, producer.schema(), producer.new_manifest_output(), producer.snapshot_id,
                                   producer._compression)


class ReplacePartition:
    """Build (lazily, PyIceberg being imported on first use) the snapshot producer that replaces
    ``remove`` by ``add`` (data and position delete files alike) on ``branch``, in one snapshot.

    Use: ``with table.transaction() as tx: ReplacePartition.producer(tx, table.io, branch,
    props, remove=…, add=…).commit()``."""

    @staticmethod
    def producer(tx: Transaction, io: FileIO, branch: str, snapshot_properties: dict[str, str], *,
                 remove: Sequence[DataFile], add: Sequence[DataFile]) -> Any:
        from pyiceberg.table.snapshots import Operation

        cls = _producer_class()
        op = Operation.OVERWRITE if tx.table_metadata.snapshot_by_name(branch) is not None else Operation.APPEND
        return cls(operation=op, transaction=tx, io=io, branch=branch, snapshot_properties=snapshot_properties,
                   remove=remove, add=add)


@functools.cache
def _producer_class() -> Any:
    from pyiceberg.manifest import DataFileContent, ManifestContent, ManifestEntry, ManifestEntryStatus
    from pyiceberg.table.snapshots import SnapshotSummaryCollector, Summary, update_snapshot_summaries
    from pyiceberg.table.update.snapshot import _SnapshotProducer

    class _ReplacePartition(_SnapshotProducer["_ReplacePartition"]):
        def __init__(self, *, remove: Sequence[DataFile], add: Sequence[DataFile], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._remove_paths = {f.file_path for f in remove}
            self._added = list(add)
            self._added_data_files = [f for f in add if f.content == DataFileContent.DATA]
            self._removed: list[DataFile] = []

        def _validate_concurrency(self) -> None:
            """The caller asserts the branch head (optimistic); nothing else to check."""

        def _deleted_entries(self) -> list[ManifestEntry]:
            return []

        def _existing_manifests(self) -> list[ManifestFile]:
            return []

        def _manifests(self) -> list[ManifestFile]:
            spec = self._transaction.table_metadata.spec()
            out: list[ManifestFile] = []
            self._removed = []
            parent = (self._transaction.table_metadata.snapshot_by_id(self._parent_snapshot_id)
                      if self._parent_snapshot_id is not None else None)
            for manifest in parent.manifests(self._io) if parent is not None else []:
                entries = manifest.fetch_manifest_entry(io=self._io, discard_deleted=True)
                gone = [e for e in entries if e.data_file.file_path in self._remove_paths]
                if not gone:
                    out.append(manifest)  # untouched (another wiki's files): referenced as it is
                    continue
                kept = [e for e in entries if e.data_file.file_path not in self._remove_paths]
                self._removed.extend(e.data_file for e in gone)
                writer = (_delete_manifest_writer(self, self.spec(manifest.partition_spec_id))
                          if manifest.content == ManifestContent.DELETES else self.new_manifest_writer(self.spec(manifest.partition_spec_id)))
                with writer:
                    for e in kept:
                        writer.add_entry(ManifestEntry.from_args(
                            status=ManifestEntryStatus.EXISTING, snapshot_id=e.snapshot_id,
                            sequence_number=e.sequence_number, file_sequence_number=e.file_sequence_number,
                            data_file=e.data_file))
                    for e in gone:
                        writer.add_entry(ManifestEntry.from_args(
                            status=ManifestEntryStatus.DELETED, snapshot_id=self._snapshot_id,
                            sequence_number=e.sequence_number, file_sequence_number=e.file_sequence_number,
                            data_file=e.data_file))
                out.append(writer.to_manifest_file())
            for content, make in ((DataFileContent.DATA, self.new_manifest_writer),
                                  (DataFileContent.POSITION_DELETES, lambda s: _delete_manifest_writer(self, s))):
                files = [f for f in self._added if f.content == content]
                if not files:
                    continue
                with make(spec) as writer:
                    for f in files:
                        writer.add(ManifestEntry.from_args(
                            status=ManifestEntryStatus.ADDED, snapshot_id=self._snapshot_id,
                            sequence_number=None, file_sequence_number=None, data_file=f))
                out.insert(0, writer.to_manifest_file())
            return out

        def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
            metadata = self._transaction.table_metadata
            collector = SnapshotSummaryCollector()
            specs = metadata.specs()

            def spec_of(f: DataFile) -> Any:  # files written but not yet read back carry no spec id
                return specs[getattr(f, "_spec_id", metadata.default_spec_id)]

            for f in self._added:
                collector.add_file(f, schema=metadata.schema(), partition_spec=spec_of(f))
            for f in self._removed:
                collector.remove_file(f, schema=metadata.schema(), partition_spec=spec_of(f))
            previous = metadata.snapshot_by_id(self._parent_snapshot_id) if self._parent_snapshot_id else None
            return update_snapshot_summaries(
                summary=Summary(operation=self._operation, **collector.build(), **(snapshot_properties or {})),
                previous_summary=previous.summary if previous is not None else None)

    return _ReplacePartition
