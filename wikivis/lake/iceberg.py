"""The lake on Apache Iceberg (PyIceberg's SQL catalog), with write-audit-publish.

Layout: one Iceberg table per dataset, ``wikivis.<dataset>``, partitioned by identity on a
hidden column ``_wiki`` (some datasets have a ``wiki`` column of their own with another
meaning, e.g. the wiki of a cross-wiki lead image).  The catalog is PyIceberg's SQL catalog
(SQLite under ``WIKIVIS_HOME`` by default, PostgreSQL wherever ``WIKIVIS_CATALOG_URL``
points); the warehouse is any URI pyarrow's file systems accept.  Nothing here assumes a
local path for table data: files are written and read through the table's ``FileIO``.

Vocabulary: a *label* is what the rest of wikivis calls a snapshot id (``20261106``, a dump
date, or ``20261106T000000Z``, the end of an events window).  Every write is one Iceberg
snapshot whose summary carries ``wikivis.wiki``, ``wikivis.label``, ``wikivis.run_id``,
``wikivis.rows``, ``wikivis.content_hash`` and the caller's extras (dump date, event
position), so "the state of samplewiki as of 2026-11-06" is one snapshot, found by property.

Guarantees (each is a test in ``tests/unit/lake/``):

* **Write-audit-publish.**  A run writes on its own branch ``run-<run id>`` of each table
  (created from ``main``); a write replaces the wiki's partition on that branch in one
  commit, referencing new files only.  Gates read the branch by label.  Readers read
  *publications* (:mod:`wikivis.lake.publications`), never branches, so nothing a run
  writes is visible before :meth:`Lake.publish_run` records it, after every gate passed.
* **Readers see all datasets of one publication or none.**  The publication row is the
  commit point.  ``main`` of each table is then moved to the published files (a metadata
  commit: the same data files, no copy) and tagged ``pub-<id>-<wiki>``, for other engines;
  a crash in between is repaired by the next publication.
* **Re-running a label never changes what readers see** until its gates pass and it is
  published as a new publication; the old one stays readable by time travel
  (``read(..., as_of=…)``) until retention expires it.
* **Concurrent writers.**  Every data file has a unique name (label, writer uuid, sequence);
  commits are optimistic and retried on conflict with the partition re-planned, up to
  ``COMMIT_ATTEMPTS`` times, then :class:`LakeConflictError` (retryable) is raised.  No
  writer deletes anything but its own uncommitted files.
* **Crashes.**  A process killed before its commit leaves unreferenced files only; they are
  removed by :meth:`Lake.remove_orphan_files`, which deletes files referenced by no live
  snapshot *and older than a safe age*, never "whatever is staged".
* **Idempotent reruns.**  Rows are written in the dataset's canonical order
  (:data:`wikivis.datasets.SORT_KEYS`); the content hash covers the rows, so a rerun with
  equal content commits nothing and returns the existing snapshot.
* **Bounded memory.**  An iterator of record batches marked ``presorted`` is streamed to
  rolling Parquet files without being materialised; reads can stream too
  (:meth:`Lake.iter_batches`).
* **Small deltas write little.**  A write with ``base=`` (an events delta) is merge-on-read:
  Iceberg v2 position delete files for the rows that changed or vanished plus one small data
  file with the new rows, one snapshot (:mod:`wikivis.lake.deletes`).  Every reader applies
  the deletes: ours (per file, streaming), PyIceberg's scans, DuckDB.  A file that would lose
  over half its rows is rewritten instead, and :meth:`Lake.compact` (run by
  :meth:`Lake.apply_retention`) rewrites files worn down by deletes, so reads do not degrade.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from wikivis.datasets import SORT_KEYS
from wikivis.datasets import schema as dataset_schema
from wikivis.errors import InputError, NotFoundError, WikivisError
from wikivis.lake.deletes import ReplacePartition, live_mask, read_positions, write_position_deletes
from wikivis.lake.publications import Publication, PublicationConflict, PublicationLog, create_tolerating_peers
from wikivis.vocab import check_dataset, check_snapshot, check_wiki

if TYPE_CHECKING:
    import sqlalchemy as sa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table
    from pyiceberg.types import PrimitiveType

log = logging.getLogger(__name__)

NAMESPACE = "wikivis"
HIDDEN_WIKI = "_wiki"
ROWS_PER_FILE = 1_000_000
#: the most rows per Parquet row group on write (files roll over at the first row group past
#: ROWS_PER_FILE); wide rows get fewer, see ROW_GROUP_BYTES
ROW_GROUP_ROWS = 1_048_576
#: Arrow bytes a row group is held in before it is written (estimated from the schema, so the
#: row count, and with it the file bytes and content hash, never depends on the data's chunking):
#: the writer holds a row group about twice (the batches and their combined copy), which at 1M
#: rows of `files` was ~300 MiB of the bounded ingest's peak (issue 19)
ROW_GROUP_BYTES = 8 << 20
#: bytes assumed per string/binary value in that estimate
_VARWIDTH_GUESS = 32
#: string columns of mostly distinct values, written without a dictionary (see _parquet_writer)
PLAIN_ENCODED_COLUMNS = frozenset({"page_title", "file_name"})
#: rows per batch on read
BATCH_ROWS = 65_536
COMMIT_ATTEMPTS = 40
#: a delta rewrites a data file (copy-on-write) instead of deleting more than this share of its rows
DELETE_REWRITE_RATIO = 0.5
#: compaction rewrites data files whose deleted share exceeds this (see :meth:`Lake.compact`)
COMPACT_DELETE_RATIO = 0.2
#: … and merges the small files deltas append once a label has more than this many
COMPACT_SMALL_FILES = 8
#: the longest wait between two commit attempts (jittered exponential backoff up to it)
COMMIT_MAX_BACKOFF_S = 5.0
PROP = "wikivis."
MAIN = "main"


class LakeConflictError(WikivisError):
    """Concurrent commits kept winning over this one; retrying the task is safe."""

    retryable = True


@dataclass(frozen=True)
class FileEntry:
    """A file of a label: ``content`` is ``data`` or ``deletes`` (a position delete file,
    whose ``rows`` are the positions it deletes)."""

    name: str
    rows: int
    bytes: int
    sha256: str = ""
    content: str = "data"


@dataclass(frozen=True)
class Manifest:
    """What one write committed (a label of a dataset for a wiki)."""

    dataset: str
    wiki: str
    snapshot: str
    rows: int
    schema_fingerprint: str
    content_hash: str
    files: tuple[FileEntry, ...]
    run_id: str | None = None
    inputs: tuple[str, ...] = ()
    created_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    snapshot_id: int = 0
    branch: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["files"] = [asdict(f) for f in self.files]
        return json.dumps(data, indent=2, sort_keys=True)


def schema_fingerprint(schema: pa.Schema) -> str:
    text = "\n".join(f"{f.name}:{f.type}:{'null' if f.nullable else 'notnull'}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def conform(table: pa.Table | pa.RecordBatch, schema: pa.Schema, *, source: str) -> pa.Table:
    """Select and cast ``table`` to ``schema``; a missing column or a null in a non-nullable
    column is an :class:`InputError` naming the dataset and column."""
    names = table.schema.names
    missing = [f.name for f in schema if f.name not in names]
    if missing:
        raise InputError(f"missing columns {missing}", source=source)
    columns = []
    for f in schema:
        col = table.column(f.name)
        if not f.nullable and col.null_count:
            raise InputError(f"column {f.name!r} has {col.null_count} nulls but is not nullable", source=source)
        try:
            columns.append(col.cast(f.type) if col.type != f.type else col)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"column {f.name!r} cannot be cast to {f.type}: {exc}", source=source) from exc
    return pa.Table.from_arrays(columns, schema=schema)


def row_group_rows(schema: pa.Schema) -> int:
    """Rows per row group for ``schema``: :data:`ROW_GROUP_BYTES` over an estimated row width,
    a multiple of 8192, at least 32,768 and at most :data:`ROW_GROUP_ROWS`."""
    width = sum(f.type.byte_width if pa.types.is_primitive(f.type) and f.type.bit_width >= 8 else _VARWIDTH_GUESS
                for f in schema)
    rows = ROW_GROUP_BYTES // max(1, width) // 8192 * 8192
    return min(ROW_GROUP_ROWS, max(32_768, rows))


def _parquet_writer(output_file: Any, schema: Any, properties: dict[str, str]) -> Any:
    """PyIceberg's Parquet writer, with dictionary encoding off for :data:`PLAIN_ENCODED_COLUMNS`.

    Row groups are small here (:data:`ROW_GROUP_BYTES`, for bounded memory), and a dictionary
    per small row group of mostly distinct titles and file names is both slower and larger than
    plain encoding under zstd: on 2M ``article_images`` rows in 40k-row groups, 0.36 s and
    14 MiB plain against 0.72–0.87 s and 24 MiB with dictionaries (writes 1.3× plain Parquet
    instead of 2.0×).  Only those columns: with dictionaries off for *every* string column the
    ingest's peak RSS at 1/100 of enwiki + Commons went from 345 to 1,131 MiB (not understood
    yet; ``bench/ingest_scale.py`` shows it).  PyIceberg 0.12 has no table property for this,
    so the writer's keyword arguments are extended (``ParquetFormatWriter._parquet_writer_kwargs``)."""
    from pyiceberg.io.pyarrow import ParquetFormatWriter, schema_to_pyarrow

    writer = ParquetFormatWriter(output_file, schema, properties)
    writer._parquet_writer_kwargs["use_dictionary"] = [
        f.name for f in schema_to_pyarrow(schema) if f.name not in PLAIN_ENCODED_COLUMNS]
    return writer


def _rebatch(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """Fixed-size slices of a stream of tables, so hashing and files do not depend on how
    the caller happened to chunk its data."""
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        if table.num_rows == 0:
            continue
        pending.append(table)
        held += table.num_rows
        while held >= rows:
            merged = pa.concat_tables(pending)
            yield merged.slice(0, rows).combine_chunks()  # Parquet page boundaries follow chunks
            rest = merged.slice(rows)
            pending, held = ([rest], rest.num_rows) if rest.num_rows else ([], 0)
    if held:
        yield pa.concat_tables(pending).combine_chunks()


def _props(snapshot: Any) -> dict[str, str]:
    summary = snapshot.summary
    if summary is None:
        return {}
    return {k[len(PROP):]: v for k, v in summary.additional_properties.items() if k.startswith(PROP)}


def branch_for(run_id: str | None, wiki: str, label: str) -> str:
    """The branch a write goes to: the run's own, or one per (wiki, label) for ad-hoc writes."""
    if run_id:
        safe = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "_" for c in run_id)
        return f"run-{safe}"
    return f"adhoc-{wiki}-{label}"


class Lake:
    """The Iceberg lake.  ``Lake(root)`` keeps catalog and warehouse under ``root``;
    :meth:`from_settings` uses the configured catalog URL and warehouse."""

    def __init__(self, root: str | Path, *, catalog_url: str | None = None, warehouse: str | None = None,
                 orphan_min_age: timedelta = timedelta(days=3)) -> None:
        self.root = Path(root)
        self.catalog_url = catalog_url or f"sqlite:///{self.root.resolve() / 'iceberg.sqlite'}"
        self.warehouse = warehouse or (self.root.resolve() / "warehouse").as_uri()
        self.orphan_min_age = orphan_min_age
        if self.catalog_url.startswith("sqlite") or self.warehouse.startswith("file:"):
            self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: Any) -> Lake:
        return cls(settings.lake_root, catalog_url=settings.resolved_catalog_url,
                   warehouse=settings.lake_warehouse or None)

    # ------------------------------------------------------------------ catalog
    @cached_property
    def engine(self) -> sa.Engine:
        import sqlalchemy as sa

        if self.catalog_url.startswith("sqlite"):
            # several processes share the file: wait for locks instead of failing at once
            return sa.create_engine(self.catalog_url, connect_args={"timeout": 60})
        return sa.create_engine(self.catalog_url, pool_pre_ping=True)

    @cached_property
    def catalog(self) -> SqlCatalog:
        from pyiceberg.catalog.sql import SqlCatalog
        from pyiceberg.exceptions import NamespaceAlreadyExistsError

        catalog = create_tolerating_peers(
            lambda: SqlCatalog(NAMESPACE, uri=self.catalog_url, warehouse=self.warehouse))
        catalog.engine.dispose()
        catalog.engine = self.engine  # one engine (and SQLite busy timeout) for both
        try:
            catalog.create_namespace(NAMESPACE)
        except NamespaceAlreadyExistsError:
            pass
        except Exception as exc:  # a concurrent creator won the race on the unique key
            if not catalog.namespace_exists(NAMESPACE):
                raise
            log.debug("namespace created concurrently: %s", exc)
        return catalog

    @cached_property
    def publications(self) -> PublicationLog:
        return PublicationLog(self.engine)

    def _table(self, dataset: str, *, create: bool = False, schema: pa.Schema | None = None) -> Table | None:
        from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError

        identifier = f"{NAMESPACE}.{dataset}"
        try:
            return self.catalog.load_table(identifier)
        except NoSuchTableError:
            if not create:
                return None
        arrow = schema if schema is not None else dataset_schema(dataset)
        full = arrow.append(pa.field(HIDDEN_WIKI, pa.string(), nullable=False))
        try:
            with self.catalog.create_table_transaction(
                identifier, schema=full,
                properties={"format-version": "2", "write.parquet.compression-codec": "zstd",
                            "commit.retry.num-retries": "0", "wikivis.dataset": dataset},
            ) as tx:
                with tx.update_spec() as spec:
                    spec.add_identity(HIDDEN_WIKI)
                # an empty first snapshot, so that run branches can start from main
                with tx.update_snapshot(snapshot_properties={PROP + "init": "1"}).fast_append():
                    pass
        except TableAlreadyExistsError:
            pass
        return self.catalog.load_table(identifier)

    def _require(self, dataset: str) -> Table:
        table = self._table(dataset)
        if table is None:
            raise NotFoundError(f"no dataset {dataset} in the lake (catalog {self._safe_url()})")
        return table

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.catalog_url).render_as_string(hide_password=True)
        except Exception:
            return "<catalog>"

    # ------------------------------------------------------------------ labels
    def _labelled(self, table: Table, wiki: str) -> list[tuple[int, int, dict[str, str]]]:
        """(timestamp, snapshot id, props) of every live snapshot that wrote ``wiki``."""
        out = []
        for snap in table.snapshots():
            props = _props(snap)
            if props.get("wiki") == wiki and "label" in props:
                out.append((snap.timestamp_ms, snap.snapshot_id, props))
        out.sort(key=lambda t: (t[0], t[1]))
        return out

    def _find(self, table: Table, wiki: str, label: str, run_id: str | None = None) -> tuple[int, dict[str, str]] | None:
        found = [(sid, props) for _, sid, props in self._labelled(table, wiki) if props["label"] == label]
        if run_id:
            own = [(sid, p) for sid, p in found if p.get("run_id") == run_id]
            found = own or found
        return found[-1] if found else None

    def snapshots(self, dataset: str, wiki: str) -> list[str]:
        """Every label of ``dataset`` written for ``wiki`` that is still readable."""
        check_dataset(dataset), check_wiki(wiki)
        table = self._table(dataset)
        if table is None:
            return []
        return sorted({props["label"] for _, _, props in self._labelled(table, wiki)})

    def latest(self, dataset: str, wiki: str) -> str | None:
        snaps = self.snapshots(dataset, wiki)
        return snaps[-1] if snaps else None

    def exists(self, dataset: str, wiki: str, snapshot: str) -> bool:
        return snapshot in self.snapshots(dataset, wiki)

    def manifest(self, dataset: str, wiki: str, snapshot: str, *, run_id: str | None = None) -> Manifest:
        check_dataset(dataset), check_wiki(wiki), check_snapshot(snapshot)
        table = self._require(dataset)
        found = self._find(table, wiki, snapshot, run_id)
        if found is None:
            raise NotFoundError(f"no snapshot {snapshot} of {dataset} for {wiki} in the lake")
        return self._manifest(table, dataset, wiki, *found)

    def _manifest(self, table: Table, dataset: str, wiki: str, snapshot_id: int, props: dict[str, str]) -> Manifest:
        from pyiceberg.manifest import DataFileContent

        files = tuple(FileEntry(f.file_path.rsplit("/", 1)[-1], f.record_count, f.file_size_in_bytes,
                                content="data" if f.content == DataFileContent.DATA else "deletes")
                      for f in self._all_files(table, wiki, snapshot_id))
        snap = table.snapshot_by_id(snapshot_id)
        created = datetime.fromtimestamp((snap.timestamp_ms if snap else 0) / 1000, UTC).isoformat(timespec="seconds")
        return Manifest(
            dataset=dataset, wiki=wiki, snapshot=props["label"], rows=int(props.get("rows", 0)),
            schema_fingerprint=props.get("schema_fingerprint", ""), content_hash=props.get("content_hash", ""),
            files=files, run_id=props.get("run_id") or None, inputs=tuple(json.loads(props.get("inputs", "[]"))),
            created_at=created, extra=json.loads(props.get("extra", "{}")), snapshot_id=snapshot_id,
            branch=props.get("branch", ""))

    @staticmethod
    def _tasks(table: Table, wiki: str, snapshot_id: int) -> list[tuple[DataFile, list[DataFile]]]:
        """The data files of ``wiki`` in a snapshot, each with the position delete files that
        apply to it (PyIceberg's scan planning matches them by path and sequence number)."""
        check_wiki(wiki)  # also what makes the filter text below safe
        tasks = table.scan(row_filter=f"{HIDDEN_WIKI} == '{wiki}'", snapshot_id=snapshot_id).plan_files()
        return sorted(((task.file, sorted(task.delete_files, key=lambda d: d.file_path)) for task in tasks),
                      key=lambda t: t[0].file_path)

    @classmethod
    def _files(cls, table: Table, wiki: str, snapshot_id: int) -> list[DataFile]:
        return [data for data, _ in cls._tasks(table, wiki, snapshot_id)]

    @classmethod
    def _all_files(cls, table: Table, wiki: str, snapshot_id: int) -> list[DataFile]:
        """Data files, then the delete files that apply to them (each once)."""
        tasks = cls._tasks(table, wiki, snapshot_id)
        deletes = {d.file_path: d for _, ds in tasks for d in ds}
        return [data for data, _ in tasks] + [deletes[p] for p in sorted(deletes)]

    # ------------------------------------------------------------------ write
    def write(
        self,
        dataset: str,
        wiki: str,
        snapshot: str,
        data: pa.Table | Iterable[pa.RecordBatch | pa.Table],
        *,
        run_id: str | None = None,
        inputs: Sequence[str] = (),
        schema: pa.Schema | None = None,
        sort_keys: Sequence[str] | None = None,
        extra: dict[str, Any] | None = None,
        presorted: bool = False,
        base: str | None = None,
    ) -> Manifest:
        """Replace ``wiki``'s partition of ``dataset`` on the run's branch with ``data``, labelled ``snapshot``.

        ``data`` is a table or an iterator of batches; with ``presorted=True`` the batches are
        trusted to be in canonical order and streamed (bounded memory), otherwise they are
        collected and sorted here.  With ``base`` (the label ``data`` was derived from, e.g.
        by an events delta) only the rows that changed are written: see :meth:`_write_delta`."""
        check_dataset(dataset), check_wiki(wiki), check_snapshot(snapshot)
        target = schema if schema is not None else dataset_schema(dataset)
        source = f"lake {dataset}/wiki={wiki}/snapshot={snapshot}"
        keys = list(sort_keys if sort_keys is not None else SORT_KEYS.get(dataset, ()))
        if isinstance(data, pa.Table) or not presorted:
            table = data if isinstance(data, pa.Table) else _collect(data, target, source)
            table = conform(table, target, source=source)
            if keys and table.num_rows:
                table = table.sort_by([(k, "ascending") for k in keys])
            chunks: Iterable[pa.Table] = [table]
        else:
            chunks = (conform(b if isinstance(b, pa.Table) else pa.Table.from_batches([b]), target, source=source)
                      for b in data)

        iceberg = self._table(dataset, create=True, schema=target)
        assert iceberg is not None
        branch = branch_for(run_id, wiki, snapshot)
        if base is not None and keys and isinstance(chunks, list):
            base_found = self._find(iceberg, wiki, base, run_id)
            if base_found is not None:
                delta = self._write_delta(iceberg, dataset, wiki, snapshot, chunks[0], target, keys[0],
                                          base_found[0], run_id=run_id, branch=branch, inputs=inputs,
                                          extra={**(extra or {}), "delta_of": base})
                if delta is not None:
                    return delta
        files, rows, content_hash = self._write_files(iceberg, wiki, snapshot, chunks, target)
        props = {
            "wiki": wiki, "label": snapshot, "run_id": run_id or "", "rows": str(rows), "content_hash": content_hash,
            "schema_fingerprint": schema_fingerprint(target), "branch": branch,
            "inputs": json.dumps(list(inputs)[:50]), "extra": json.dumps(extra or {}, sort_keys=True, default=str),
        }
        try:
            existing = self._find(iceberg, wiki, snapshot, run_id)
            if existing is not None and existing[1].get("content_hash") == content_hash and \
                    existing[1].get("branch") == branch:
                self._delete_files(iceberg, [f.file_path for f in files])
                return self._manifest(iceberg, dataset, wiki, *existing)
            snapshot_id = self._commit_partition(dataset, wiki, branch, files, props)
        except BaseException:
            self._delete_files(iceberg, [f.file_path for f in files])
            raise
        iceberg = self._require(dataset)
        return self._manifest(iceberg, dataset, wiki, snapshot_id, props)

    def _write_files(self, table: Table, wiki: str, label: str, chunks: Iterable[pa.Table],
                     target: pa.Schema, *, dry_run: bool = False) -> tuple[list[DataFile], int, str]:
        """Stream ``chunks`` into rolling Parquet files named for this writer alone.

        ``dry_run`` writes nothing and only computes the content hash (of the bytes a full
        write would produce), which delta writes record so that equal content hashes equal."""
        from pyiceberg.io.pyarrow import schema_to_pyarrow
        from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
        from pyiceberg.typedef import Record

        # the table's Arrow schema with field ids, but plain (not large) strings: the Parquet bytes
        # are the same, and batches then need no copy to match it
        file_schema = pa.schema([f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f
                                 for f in schema_to_pyarrow(table.schema(), include_field_ids=True)])
        wiki_value = pa.array([wiki], pa.string())
        writer_id = uuid.uuid4().hex
        digest = hashlib.sha256(schema_fingerprint(target).encode())
        files: list[DataFile] = []
        written: list[str] = []
        total = 0
        current: Any = None
        current_path = ""
        current_rows = 0

        def close() -> None:
            nonlocal current
            stats = current.close()
            if dry_run:
                current = None
                return
            files.append(DataFile.from_args(
                content=DataFileContent.DATA, file_path=current_path, file_format=FileFormat.PARQUET,
                partition=Record(wiki), file_size_in_bytes=len(table.io.new_input(current_path)),
                sort_order_id=None, spec_id=table.metadata.default_spec_id, equality_ids=None, key_metadata=None,
                **stats.to_serialized_dict()))
            current = None

        try:
            for chunk in _rebatch(chunks, row_group_rows(file_schema)):
                total += chunk.num_rows
                wiki_column = wiki_value.take(pa.array(np.zeros(chunk.num_rows, dtype=np.int32)))
                full = pa.Table.from_arrays([*chunk.columns, wiki_column], schema=file_schema)
                if current is None:
                    current_path = f"{table.location()}/data/{HIDDEN_WIKI}={wiki}/{label}-{writer_id}-{len(files):05d}.parquet"
                    written.append(current_path)
                    current = _parquet_writer(
                        cast(Any, _HashingOutputFile(None if dry_run else table.io.new_output(current_path), digest,
                                                     current_path)), table.schema(), table.properties)
                    current_rows = 0
                current.write(full)
                current_rows += full.num_rows
                if current_rows >= ROWS_PER_FILE:
                    close()
            if current is not None:
                close()
        except BaseException:
            if current is not None:
                try:
                    current.close()
                except Exception:
                    pass
            self._delete_files(table, written)
            raise
        return files, total, digest.hexdigest()

    def _write_delta(self, table: Table, dataset: str, wiki: str, label: str, new: pa.Table, target: pa.Schema,
                     key: str, base_snapshot_id: int, *, run_id: str | None, branch: str, inputs: Sequence[str],
                     extra: dict[str, Any]) -> Manifest | None:
        """Commit ``new`` as row-level changes on top of a base snapshot (merge-on-read).

        The keys (first sort column) of rows that were added, removed or changed are found by
        two anti-joins.  Base files whose key bounds miss them all are kept as they are; in the
        others the live rows holding those keys are marked deleted by a *position delete file*
        (:mod:`wikivis.lake.deletes`; one per data file, merged with its earlier deletes), and
        the changed keys' new rows go to one small new data file: one snapshot, a few small
        files.  A data file that would lose more than :data:`DELETE_REWRITE_RATIO` of its rows
        is rewritten instead (copy-on-write).  The snapshot is marked unsorted, so :meth:`read`
        restores the canonical order.  Returns None (write it whole) when most rows changed."""
        import pyarrow.compute as pc
        from pyiceberg.conversions import from_bytes

        _, rows, content_hash = self._write_files(table, wiki, label, [new], target, dry_run=True)
        existing = self._find(table, wiki, label, run_id)
        if existing is not None and existing[1].get("content_hash") == content_hash and \
                existing[1].get("branch") == branch:
            return self._manifest(table, dataset, wiki, *existing)
        tasks = self._tasks(table, wiki, base_snapshot_id)
        old = pa.Table.from_batches(list(self._iter(table, wiki, base_snapshot_id, target)), schema=target)
        columns = target.names
        added = new.join(old, keys=columns, join_type="left anti")
        removed = old.join(new, keys=columns, join_type="left anti")
        affected = pc.unique(pa.chunked_array(added.column(key).chunks + removed.column(key).chunks,
                                              type=target.field(key).type))
        if 2 * (removed.num_rows + added.num_rows) > max(old.num_rows, 1) and old.num_rows > 1:
            return None
        del old, added, removed
        field = table.schema().find_field(key)
        primitive = cast("PrimitiveType", field.field_type)
        carried: dict[str, DataFile] = {}  # data and delete files referenced again, unchanged
        new_deletes: list[tuple[DataFile, np.ndarray]] = []
        rewritten: list[pa.Table] = []
        deleted_rows = 0
        for data_file, delete_files in tasks:
            lower = data_file.lower_bounds.get(field.field_id) if data_file.lower_bounds else None
            upper = data_file.upper_bounds.get(field.field_id) if data_file.upper_bounds else None
            hit = np.empty(0, dtype=np.int64)
            if len(affected) and (lower is None or upper is None or pc.any(pc.and_(
                    pc.greater_equal(affected, from_bytes(primitive, lower)),
                    pc.less_equal(affected, from_bytes(primitive, upper)))).as_py()):
                with table.io.new_input(data_file.file_path).open() as fh:
                    keys = pq.read_table(fh, columns=[key]).column(0).cast(target.field(key).type)
                hit = np.flatnonzero(pc.is_in(keys, value_set=affected).to_numpy(zero_copy_only=False))
            already = read_positions(table.io, delete_files, data_file.file_path) if len(hit) else hit
            hit = np.setdiff1d(hit, already)
            if not len(hit):
                carried.update({f.file_path: f for f in (data_file, *delete_files)})
                continue
            deleted_rows += len(hit)
            gone = np.union1d(already, hit)
            if len(gone) > DELETE_REWRITE_RATIO * data_file.record_count:
                survivors = self._read_file(table, data_file.file_path, gone, target)
                if survivors.num_rows:
                    rewritten.append(survivors)
            else:
                carried[data_file.file_path] = data_file
                new_deletes.append((data_file, gone))
        changed = new.filter(pc.is_in(new.column(key), value_set=affected)) if len(affected) else new.slice(0, 0)
        written: list[DataFile] = []
        try:
            for piece in [*rewritten, changed]:
                if piece.num_rows:
                    files, _, _ = self._write_files(table, wiki, label, [piece], target)
                    written.extend(files)
            writer_id = uuid.uuid4().hex
            for i, (data_file, gone) in enumerate(new_deletes):
                location = f"{table.location()}/data/{HIDDEN_WIKI}={wiki}/{label}-{writer_id}-deletes-{i:05d}.parquet"
                try:
                    written.append(write_position_deletes(table, wiki, data_file.file_path, gone, location))
                except BaseException:
                    self._delete_files(table, [location])
                    raise
            props = {
                "wiki": wiki, "label": label, "run_id": run_id or "", "rows": str(rows), "content_hash": content_hash,
                "schema_fingerprint": schema_fingerprint(target), "branch": branch, "sorted": "0",
                "changed_keys": str(len(affected)), "deleted_rows": str(deleted_rows),
                "inputs": json.dumps(list(inputs)[:50]), "extra": json.dumps(extra, sort_keys=True, default=str),
            }
            snapshot_id = self._commit_partition(dataset, wiki, branch, [*carried.values(), *written], props)
        except BaseException:
            self._delete_files(table, [f.file_path for f in written])
            raise
        return self._manifest(self._require(dataset), dataset, wiki, snapshot_id, props)

    @staticmethod
    def _read_file(table: Table, path: str, deleted: np.ndarray, target: pa.Schema) -> pa.Table:
        """One data file's live rows, all in memory (``read`` and rewrites: pyarrow decodes the
        file's columns and row groups on several threads, where streaming batches uses one)."""
        with table.io.new_input(path).open() as fh:
            part = pq.read_table(fh, columns=target.names)
        part = pa.Table.from_arrays([part.column(i).cast(target.field(i).type) for i in range(len(target))],
                                    schema=target)
        mask = live_mask(deleted, 0, part.num_rows)
        return part if mask is None else part.filter(pa.array(mask))

    @staticmethod
    def _delete_files(table: Table, paths: Iterable[str]) -> None:
        for path in paths:
            try:
                table.io.delete(path)
            except FileNotFoundError:
                pass
            except Exception as exc:  # cleanup must not hide the real error; orphans are swept later
                log.warning("could not delete uncommitted file %s: %s", path, exc)

    def _commit_partition(self, dataset: str, wiki: str, branch: str, files: Sequence[DataFile],
                          props: dict[str, str]) -> int:
        """Replace ``wiki``'s files on ``branch`` by ``files`` (data and position delete files):
        one snapshot, retried on conflict.  Every file is (re-)added by that snapshot, so the
        delete files apply to the data files they name (equal data sequence numbers)."""
        from pyiceberg.exceptions import CommitFailedException

        summary = {PROP + k: v for k, v in props.items()}
        for attempt in range(COMMIT_ATTEMPTS):
            table = self._require(dataset)
            try:
                if branch not in table.refs():
                    main = table.refs()[MAIN].snapshot_id
                    table.manage_snapshots().create_branch(main, branch).commit()
                    table = self._require(dataset)
                head = table.refs()[branch].snapshot_id
                old = self._all_files(table, wiki, head)
                with table.transaction() as tx:
                    ReplacePartition.producer(tx, table.io, branch, summary, remove=old, add=files).commit()
                table = self._require(dataset)
                return table.refs()[branch].snapshot_id
            except (CommitFailedException, ValueError) as exc:
                if not _is_conflict(exc):
                    raise
                delay = min(COMMIT_MAX_BACKOFF_S, 0.02 * 2 ** attempt) * (0.5 + random.random())
                log.info("commit to %s/%s lost a race (%s); retrying in %.2fs", dataset, branch, exc, delay)
                time.sleep(delay)
        raise LakeConflictError(f"{dataset}: {COMMIT_ATTEMPTS} concurrent commits won over this one on {branch}; "
                                "retry the task")

    # ------------------------------------------------------------------- read
    def _resolve(self, dataset: str, wiki: str, snapshot: str | None, as_of: str | None,
                 run_id: str | None) -> tuple[Table, int, dict[str, str]]:
        check_dataset(dataset), check_wiki(wiki)
        table = self._require(dataset)
        if snapshot is not None:
            check_snapshot(snapshot)
            found = self._find(table, wiki, snapshot, run_id)
            if found is None:
                raise NotFoundError(f"no snapshot {snapshot} of {dataset} for {wiki} in the lake")
            return table, found[0], found[1]
        publication = self.publication(wiki, as_of=as_of)
        sid = publication.snapshot_id(dataset) if publication else None
        if publication is None or sid is None:
            when = f" as of {as_of}" if as_of else ""
            raise NotFoundError(f"nothing published for {dataset} of {wiki}{when}")
        snap = table.snapshot_by_id(sid)
        if snap is None:
            raise NotFoundError(f"publication {publication.id} of {wiki} ({dataset}) was expired by retention")
        return table, sid, _props(snap)

    def iter_batches(self, dataset: str, wiki: str, snapshot: str | None = None, *,
                     columns: Sequence[str] | None = None, as_of: str | None = None,
                     run_id: str | None = None) -> Iterator[pa.RecordBatch]:
        """Stream a label (default: the published one) file by file, in write order."""
        table, sid, _ = self._resolve(dataset, wiki, snapshot, as_of, run_id)
        yield from self._iter(table, wiki, sid, self._arrow_schema(table, columns))

    def _iter(self, table: Table, wiki: str, snapshot_id: int, target: pa.Schema) -> Iterator[pa.RecordBatch]:
        """The live rows, file by file: a data file's position deletes (at most a few per file,
        small) are read first and its batches filtered as they stream by."""
        for data_file, delete_files in self._tasks(table, wiki, snapshot_id):
            deleted = read_positions(table.io, delete_files, data_file.file_path)
            if len(deleted) >= data_file.record_count:
                continue
            offset = 0
            with table.io.new_input(data_file.file_path).open() as fh:
                parquet = pq.ParquetFile(fh)
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=target.names):
                    mask = live_mask(deleted, offset, batch.num_rows) if len(deleted) else None
                    offset += batch.num_rows
                    if mask is not None:
                        batch = batch.filter(pa.array(mask))
                        if not batch.num_rows:
                            continue
                    yield pa.RecordBatch.from_arrays(
                        [batch.column(i).cast(target.field(i).type) for i in range(batch.num_columns)], schema=target)

    def read(self, dataset: str, wiki: str, snapshot: str | None = None, *, columns: Sequence[str] | None = None,
             as_of: str | None = None, run_id: str | None = None) -> pa.Table:
        """Read a label (default: the published state, or the one published ``as_of``)."""
        table, sid, props = self._resolve(dataset, wiki, snapshot, as_of, run_id)
        target = self._arrow_schema(table, columns)
        parts = []
        for data_file, delete_files in self._tasks(table, wiki, sid):
            deleted = read_positions(table.io, delete_files, data_file.file_path)
            if len(deleted) < data_file.record_count:
                parts.append(self._read_file(table, data_file.file_path, deleted, target))
        result = pa.concat_tables(parts) if len(parts) > 1 else (
            parts[0] if parts else target.empty_table())
        if props.get("sorted") == "0":
            keys = [k for k in SORT_KEYS.get(dataset, ()) if k in result.column_names]
            if keys:
                result = _sort(result, keys)
        return result

    @staticmethod
    def _arrow_schema(table: Table, columns: Sequence[str] | None) -> pa.Schema:
        dataset = table.properties.get("wikivis.dataset", "")
        try:
            full = dataset_schema(dataset)
        except KeyError:
            from pyiceberg.io.pyarrow import schema_to_pyarrow

            full = pa.schema([f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f
                              for f in schema_to_pyarrow(table.schema()) if f.name != HIDDEN_WIKI])
        if columns is None:
            return full
        unknown = [c for c in columns if c not in full.names]
        if unknown:
            raise InputError(f"unknown columns {unknown} of {dataset}")
        return pa.schema([full.field(c) for c in columns])

    def verify(self, dataset: str, wiki: str, snapshot: str) -> list[str]:
        """The files of a label that can no longer be read."""
        table, sid, _ = self._resolve(dataset, wiki, snapshot, None, None)
        return [f.file_path.rsplit("/", 1)[-1] for f in self._all_files(table, wiki, sid)
                if not table.io.new_input(f.file_path).exists()]

    # ---------------------------------------------------------------- publish
    def publication(self, wiki: str, *, as_of: str | None = None) -> Publication | None:
        """The newest publication, or the one a run id / date / publication id names."""
        check_wiki(wiki)
        if as_of is None:
            return self.publications.latest(wiki)
        history = self.publications.history(wiki)
        for pub in history:
            if pub.run_id == as_of or str(pub.id) == as_of:
                return pub
        digits = as_of.replace("-", "")
        if digits[:8].isdigit() and digits[:8].isascii():
            day = digits[:8]
            for pub in history:  # newest first: the newest whose data is not newer than the date
                labels = [str(e["label"])[:8] for e in pub.datasets.values()]
                if labels and max(labels) <= day:
                    return pub
            raise NotFoundError(f"no publication of {wiki} with data at or before {as_of}")
        raise NotFoundError(f"no publication of {wiki} for run {as_of!r}")

    def current(self, dataset: str, wiki: str) -> str | None:
        """The published label of ``dataset`` for ``wiki``."""
        check_dataset(dataset)
        pub = self.publication(wiki)
        return pub.label(dataset) if pub else None

    def publish(self, dataset: str, wiki: str, snapshot: str, *, run_id: str | None = None) -> Publication:
        """Publish one dataset (see :meth:`publish_run` for several at once)."""
        return self.publish_run(wiki, {dataset: snapshot}, run_id=run_id)

    def publish_run(self, wiki: str, labels: dict[str, str], *, run_id: str | None = None,
                    kind: str = "publish") -> Publication:
        """Make ``labels`` (dataset → label) what readers see, all at once."""
        check_wiki(wiki)
        entries: dict[str, dict[str, Any]] = {}
        for dataset, label in labels.items():
            check_dataset(dataset), check_snapshot(label)
            table = self._require(dataset)
            found = self._find(table, wiki, label, run_id)
            if found is None:
                raise NotFoundError(f"cannot publish {dataset} {label} of {wiki}: no such snapshot")
            entries[dataset] = {"label": label, "snapshot_id": found[0], "rows": int(found[1].get("rows", 0))}
        publication = self.publications.record(wiki, entries, run_id=run_id, kind=kind)
        self.sync_main(wiki, publication)
        return publication

    def sync_main(self, wiki: str, publication: Publication | None = None) -> None:
        """Point each table's ``main`` at the published files of ``wiki`` and tag the snapshot.

        Metadata only (the same data files); other engines read ``main`` or the tag.  Failures
        are logged, not raised: wikivis readers follow the publication row, and the next
        publication repairs ``main``."""
        from pyiceberg.exceptions import CommitFailedException

        publication = publication or self.publications.latest(wiki)
        if publication is None:
            return
        for dataset, entry in publication.datasets.items():
            for attempt in range(COMMIT_ATTEMPTS):
                try:
                    table = self._require(dataset)
                    published = int(entry["snapshot_id"])
                    if table.snapshot_by_id(published) is None:
                        break
                    head = table.refs()[MAIN].snapshot_id
                    old = self._all_files(table, wiki, head)
                    files = self._all_files(table, wiki, published)
                    if {f.file_path for f in old} != {f.file_path for f in files}:
                        props = {PROP + "publication": str(publication.id), PROP + "wiki": wiki,
                                 PROP + "published_label": str(entry["label"])}
                        with table.transaction() as tx:
                            ReplacePartition.producer(tx, table.io, MAIN, props, remove=old, add=files).commit()
                        table = self._require(dataset)
                    tag = f"pub-{publication.id}-{wiki}"
                    if tag not in table.refs():
                        table.manage_snapshots().create_tag(published, tag).commit()
                    break
                except (CommitFailedException, ValueError) as exc:
                    if not _is_conflict(exc):
                        log.warning("could not move main of %s to publication %s: %s", dataset, publication.id, exc)
                        break
                    time.sleep(min(COMMIT_MAX_BACKOFF_S, 0.02 * 2 ** attempt) * (0.5 + random.random()))
                except Exception as exc:
                    log.warning("could not move main of %s to publication %s: %s", dataset, publication.id, exc)
                    break

    def history(self, wiki: str, dataset: str | None = None) -> list[Publication]:
        """Publications of ``wiki`` (newest first), optionally only those holding ``dataset``."""
        check_wiki(wiki)
        pubs = self.publications.history(wiki)
        return [p for p in pubs if dataset is None or dataset in p.datasets]

    def rollback(self, wiki: str, to: str, *, run_id: str) -> Publication:
        """Republish an older publication (by run id, publication id or date) as a new one."""
        target = self.publication(wiki, as_of=to)
        if target is None:
            raise NotFoundError(f"no publication of {wiki} matches {to!r}")
        for dataset, entry in target.datasets.items():
            table = self._require(dataset)
            if table.snapshot_by_id(int(entry["snapshot_id"])) is None:
                raise NotFoundError(f"publication {target.id} of {wiki}: {dataset} was expired by retention")
        publication = self.publications.record(wiki, dict(target.datasets), run_id=run_id, kind="rollback")
        self.sync_main(wiki, publication)
        return publication

    # ------------------------------------------------------------- compaction
    def compact(self, dataset: str, wiki: str, *, min_delete_ratio: float = COMPACT_DELETE_RATIO,
                max_small_files: int = COMPACT_SMALL_FILES) -> Publication | None:
        """Rewrite the published files of ``wiki`` that merge-on-read deltas have worn down, so
        reads do not degrade forever: data files whose deleted share exceeds
        ``min_delete_ratio``, and the small files deltas append once there are more than
        ``max_small_files`` of them.  Their live rows go to new files, committed on the branch
        ``compact-<wiki>`` as a snapshot with the same label, rows and content hash, then
        published (kind ``compact``) if the publication it compacted is still the newest;
        otherwise it stays unpublished and retention removes it.  Returns the new publication,
        or None when there was nothing to do."""
        check_dataset(dataset), check_wiki(wiki)
        publication = self.publication(wiki)
        sid = publication.snapshot_id(dataset) if publication else None
        table = self._table(dataset)
        if publication is None or sid is None or table is None or table.snapshot_by_id(sid) is None:
            return None
        snap = table.snapshot_by_id(sid)
        props = _props(snap)
        target = self._arrow_schema(table, None)
        tasks = self._tasks(table, wiki, sid)
        # only deltas append small files; a label written whole keeps the files its writer chose
        small = [d for d, _ in tasks if d.record_count < ROWS_PER_FILE // 8] if "changed_keys" in props else []
        merge_small = len(small) > max_small_files
        carried: dict[str, DataFile] = {}
        pieces: list[pa.Table] = []
        for data_file, delete_files in tasks:
            deleted = read_positions(table.io, delete_files, data_file.file_path)
            worn = len(deleted) > min_delete_ratio * data_file.record_count
            if worn or (merge_small and data_file in small):
                pieces.append(self._read_file(table, data_file.file_path, deleted, target))
            else:
                carried.update({f.file_path: f for f in (data_file, *delete_files)})
        if not pieces:
            return None
        rows = pa.concat_tables(pieces)
        keys = [k for k in SORT_KEYS.get(dataset, ()) if k in rows.column_names]
        if keys:
            rows = rows.sort_by([(k, "ascending") for k in keys])
        label = props["label"]
        files, _, _ = self._write_files(table, wiki, label, [rows], target)
        branch = f"compact-{wiki}"
        new_props = {**props, "branch": branch, "compacted_from": str(sid), "sorted": "0"}
        try:
            new_sid = self._commit_partition(dataset, wiki, branch, [*carried.values(), *files], new_props)
        except BaseException:
            self._delete_files(table, [f.file_path for f in files])
            raise
        entry = {"label": label, "snapshot_id": new_sid, "rows": int(props.get("rows", 0))}
        try:
            compacted = self.publications.record(wiki, {dataset: entry}, run_id=f"compact-{wiki}", kind="compact",
                                                 expect={dataset: sid})
        except PublicationConflict:
            log.info("%s of %s: a newer publication appeared while compacting; not publishing", dataset, wiki)
            return None
        self.sync_main(wiki, compacted)
        return compacted

    # -------------------------------------------------------------- retention
    def apply_retention(self, dataset: str, wiki: str, keep: int, *,
                        min_age: timedelta = timedelta(hours=1), branch_ttl: timedelta = timedelta(days=7),
                        compact: bool = True) -> list[str]:
        """Keep the newest ``keep`` publications of ``wiki`` readable; expire the rest.

        First, with ``compact``, the published files worn down by merge-on-read deltas are
        rewritten (:meth:`compact`).

        Tags of older publications and branches of runs older than ``branch_ttl`` (kept so a
        failed run can be inspected) are removed, then snapshots that no ref, no kept
        publication and no younger-than-``min_age`` writer needs are expired.  Returns the
        labels that are no longer readable."""
        if keep < 1:
            raise ValueError("retention must keep at least one publication")
        if compact and self._table(dataset) is not None:
            self.compact(dataset, wiki)
        table = self._table(dataset)
        if table is None:
            return []
        before = set(self.snapshots(dataset, wiki))
        pubs = [p for p in self.publications.history(wiki) if dataset in p.datasets]
        keep_ids = {int(p.datasets[dataset]["snapshot_id"]) for p in pubs[:keep]}
        kept_tags = {f"pub-{p.id}-{wiki}" for p in pubs[:keep]}
        now_ms = int(time.time() * 1000)
        ops = table.manage_snapshots()
        changed = False
        for name, ref in table.refs().items():
            if name.startswith("pub-") and name.endswith(f"-{wiki}") and name not in kept_tags:
                ops = ops.remove_tag(name)
                changed = True
            elif name.startswith(("run-", "adhoc-", "compact-")):
                snap = table.snapshot_by_id(ref.snapshot_id)
                if snap is not None and now_ms - snap.timestamp_ms > branch_ttl.total_seconds() * 1000:
                    ops = ops.remove_branch(name)
                    changed = True
        if changed:
            ops.commit()
            table = self._require(dataset)
        protected = {ref.snapshot_id for ref in table.refs().values()} | keep_ids
        for pub in self.publications.history(wiki)[:keep]:
            protected |= {int(e["snapshot_id"]) for e in pub.datasets.values()}
        cutoff = now_ms - int(min_age.total_seconds() * 1000)
        doomed = [s.snapshot_id for s in table.snapshots()
                  if s.snapshot_id not in protected and s.timestamp_ms < cutoff
                  and _props(s).get("wiki") in (wiki, None)]
        if doomed:
            table.maintenance.expire_snapshots().by_ids(doomed).commit()
        return sorted(before - set(self.snapshots(dataset, wiki)))

    def remove_orphan_files(self, *, older_than: timedelta | None = None, dry_run: bool = False) -> list[str]:
        """Delete files under each table's location that no live snapshot references and that
        are older than a safe age (default ``orphan_min_age``), so an in-flight writer's files
        are never touched.  Local and pyarrow file systems alike."""
        from pyarrow import fs as pafs

        age = older_than if older_than is not None else self.orphan_min_age
        cutoff = datetime.now(UTC) - age
        removed: list[str] = []
        for dataset in self.datasets():
            table = self._require(dataset)
            referenced = self._referenced(table)
            filesystem, base = pafs.FileSystem.from_uri(table.location())
            selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
            for info in filesystem.get_file_info(selector):
                if info.type != pafs.FileType.File or info.mtime is None:
                    continue
                mtime = info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=UTC)
                if mtime > cutoff:
                    continue
                if _norm(info.path) in referenced:
                    continue
                removed.append(info.path)
                if not dry_run:
                    filesystem.delete_file(info.path)
        return removed

    @staticmethod
    def _referenced(table: Table) -> set[str]:
        refs: set[str] = {_norm(table.metadata_location)}
        for logged in table.metadata.metadata_log:
            refs.add(_norm(logged.metadata_file))
        for snap in table.snapshots():
            refs.add(_norm(snap.manifest_list))
            for manifest in snap.manifests(table.io):
                refs.add(_norm(manifest.manifest_path))
                for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                    refs.add(_norm(entry.data_file.file_path))
        return refs

    # -------------------------------------------------------------- listing
    def datasets(self) -> list[str]:
        try:
            return sorted(name for _, name in self.catalog.list_tables(NAMESPACE))
        except Exception:
            return []

    def wikis(self, dataset: str) -> list[str]:
        table = self._table(dataset)
        if table is None:
            return []
        return sorted({p["wiki"] for p in (_props(s) for s in table.snapshots()) if "wiki" in p and "label" in p})

    def metadata_location(self, dataset: str) -> str:
        """The current metadata file of a table (what DuckDB's ``iceberg_scan`` reads)."""
        return str(self._require(dataset).metadata_location)

    def branches(self, run_id: str) -> dict[str, list[Manifest]]:
        """What a run wrote on its branch, per dataset (``wikivis lake show --run``)."""
        out: dict[str, list[Manifest]] = {}
        branch = branch_for(run_id, "x", "0")
        for dataset in self.datasets():
            table = self._require(dataset)
            if branch not in table.refs():
                continue
            for snap in table.snapshots():
                props = _props(snap)
                if props.get("branch") == branch and "label" in props:
                    out.setdefault(dataset, []).append(
                        self._manifest(table, dataset, props["wiki"], snap.snapshot_id, props))
        return out


class _HashingStream:
    """A write-only stream that feeds every byte it passes on to a digest.

    The content hash of a write is the hash of its Parquet bytes: they depend only on the
    rows (fixed-size row groups, fixed writer settings), not on how Arrow laid out buffers."""

    def __init__(self, inner: Any, digest: Any) -> None:
        self.inner, self.digest, self.closed = inner, digest, False

    def write(self, data: Any) -> int:
        self.digest.update(data)
        self.inner.write(data)
        return len(data)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.inner.close()

    def __enter__(self) -> _HashingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Discard:
    def write(self, data: Any) -> int:
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _HashingOutputFile:
    """An output file that hashes what is written to it (and discards it when ``inner`` is None)."""

    def __init__(self, inner: Any, digest: Any, location: str) -> None:
        self.inner, self.digest, self.location = inner, digest, location

    def create(self, overwrite: bool = False) -> _HashingStream:
        return _HashingStream(_Discard() if self.inner is None else self.inner.create(overwrite=overwrite), self.digest)

    def __len__(self) -> int:
        return len(self.inner)


def _sort(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """``table`` in canonical order.  After a delta it is a few long sorted runs (the base
    files) and a few short ones (the changed rows): the stable sort order is then mostly
    consecutive indices, and the result is built from zero-copy slices of ``table`` instead
    of a ``take`` that would copy every column (the costly part, strings above all)."""
    import pyarrow.compute as pc

    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys]).to_numpy()
    if not len(order):
        return table
    breaks = np.flatnonzero(np.diff(order) != 1) + 1
    if len(breaks) > max(64, len(order) // 64):
        return table.take(pa.array(order))
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(order)]])
    return pa.concat_tables([table.slice(int(order[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)])


def _is_conflict(exc: Exception) -> bool:
    """A lost optimistic race: the catalog changed under the commit.  PyIceberg reports it as
    ``CommitFailedException``, or, when another branch's commit advanced the table's sequence
    number first, as a ``ValueError`` about sequence numbers."""
    from pyiceberg.exceptions import CommitFailedException

    return isinstance(exc, CommitFailedException) or "sequence number" in str(exc)


def _norm(path: str) -> str:
    """Compare file locations with or without a URI scheme."""
    for prefix in ("file://", "file:"):
        if path.startswith(prefix):
            return path[len(prefix):]
    return path.split("://", 1)[-1]


def _collect(data: Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema, source: str) -> pa.Table:
    tables = [b if isinstance(b, pa.Table) else pa.Table.from_batches([b]) for b in data]
    if not tables:
        return schema.empty_table()
    try:
        return pa.concat_tables([conform(t, schema, source=source) for t in tables])
    except pa.ArrowInvalid as exc:
        raise InputError(f"batches do not share a schema: {exc}", source=source) from exc
