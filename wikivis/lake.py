"""The Parquet lake: immutable snapshot partitions, manifests, atomic publish, retention.

Layout::

    <root>/<dataset>/wiki=<wiki>/snapshot=<snapshot>/part-00000.parquet
    <root>/<dataset>/wiki=<wiki>/snapshot=<snapshot>/_manifest.json
    <root>/<dataset>/wiki=<wiki>/_current.json          # the published snapshot

Guarantees:

* **Atomic writes.**  A partition is written into ``.staging-<uuid>/`` beside its final place,
  fsynced, then renamed.  A crash mid-write leaves only a staging directory (cleaned by the
  next write), never a half partition; the previous snapshot stays intact and readable.
* **Readers never see partial data.**  Readers list files from the manifest (written last,
  inside the staging directory) rather than globbing the directory.
* **Idempotent reruns.**  Rows are sorted by the dataset's canonical key
  (:data:`wikivis.datasets.SORT_KEYS`) before writing, so the same input gives byte-identical
  files; a rerun whose content hash equals the existing partition's is a no-op.  A rerun with
  different content replaces the partition (old one renamed aside, then removed).
* **Publish moves a pointer.**  ``_current.json`` changes only through :meth:`Lake.publish`,
  which the pipeline calls after every gate has passed.
* **Retention** keeps the newest N snapshots and never deletes the published one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from wikivis.datasets import SORT_KEYS
from wikivis.datasets import schema as dataset_schema
from wikivis.errors import InputError, NotFoundError, WikivisError

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SNAPSHOT_RE = re.compile(r"^\d{8}(T\d{6}Z)?$")
MANIFEST = "_manifest.json"
CURRENT = "_current.json"
ROWS_PER_FILE = 2_000_000
#: row-group size of streamed (presorted) writes: bounds what :meth:`Lake.write` holds
STREAM_ROW_GROUP = 1 << 15


@dataclass(frozen=True)
class FileEntry:
    name: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
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

    def to_json(self) -> str:
        data = asdict(self)
        data["files"] = [asdict(f) for f in self.files]
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["files"] = tuple(FileEntry(**f) for f in data["files"])
        data["inputs"] = tuple(data.get("inputs", ()))
        return cls(**data)


def schema_fingerprint(schema: pa.Schema) -> str:
    text = "\n".join(f"{f.name}:{f.type}:{'null' if f.nullable else 'notnull'}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a small file atomically (temp file in the same directory, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def conform(table: pa.Table, schema: pa.Schema, *, source: str) -> pa.Table:
    """Select and cast ``table`` to ``schema``; a missing column or a null in a non-nullable
    column is an :class:`InputError` naming the dataset and column."""
    missing = [f.name for f in schema if f.name not in table.column_names]
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


def _write_stream(staging: Path, batches: Iterable[pa.RecordBatch], schema: pa.Schema, source: str) -> list[FileEntry]:
    """Write presorted ``batches`` as ``part-NNNNN.parquet`` files of ``ROWS_PER_FILE`` rows.

    Rows are regrouped into row groups of ``STREAM_ROW_GROUP`` rows whatever the incoming
    batch sizes, so the same rows always give the same bytes; at most one row group is held.
    """
    entries: list[FileEntry] = []
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    writer: pq.ParquetWriter | None = None
    in_file = 0

    def close() -> None:
        nonlocal writer
        if writer is None:
            return
        writer.close()
        writer = None
        target = staging / entries[-1].name
        with target.open("rb") as fh:
            os.fsync(fh.fileno())
        entries[-1] = FileEntry(entries[-1].name, in_file, target.stat().st_size, _sha256(target))

    def flush(limit: int) -> None:
        nonlocal pending, pending_rows, writer, in_file
        while pending_rows >= limit and pending_rows:
            if writer is None or in_file >= ROWS_PER_FILE:
                close()
                name = f"part-{len(entries):05d}.parquet"
                entries.append(FileEntry(name, 0, 0, ""))
                writer, in_file = pq.ParquetWriter(staging / name, schema, compression="zstd", write_statistics=True), 0
            take = min(STREAM_ROW_GROUP, ROWS_PER_FILE - in_file, pending_rows)
            chunk = pa.Table.from_batches(pending, schema=schema)
            writer.write_table(chunk.slice(0, take), row_group_size=take)
            rest = chunk.slice(take)
            pending, pending_rows = rest.to_batches(), rest.num_rows
            in_file += take

    for batch in batches:
        if not batch.num_rows:
            continue
        table = conform(pa.Table.from_batches([batch]), schema, source=source)
        pending.extend(table.to_batches())
        pending_rows += table.num_rows
        flush(STREAM_ROW_GROUP)
    flush(1)
    if writer is None and not entries:  # an empty dataset still gets a file carrying the schema
        entries.append(FileEntry("part-00000.parquet", 0, 0, ""))
        writer = pq.ParquetWriter(staging / entries[-1].name, schema, compression="zstd", write_statistics=True)
        writer.write_table(schema.empty_table())
    close()
    return entries


class Lake:
    """A Parquet lake rooted at ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ paths
    @staticmethod
    def _check(dataset: str, wiki: str, snapshot: str | None = None) -> None:
        if not _NAME_RE.fullmatch(dataset):
            raise WikivisError(f"invalid dataset name {dataset!r}")
        if not _NAME_RE.fullmatch(wiki):
            raise WikivisError(f"invalid wiki name {wiki!r}")
        if snapshot is not None and not _SNAPSHOT_RE.fullmatch(snapshot):
            raise WikivisError(f"invalid snapshot id {snapshot!r} (expected YYYYMMDD or YYYYMMDDTHHMMSSZ)")

    def wiki_dir(self, dataset: str, wiki: str) -> Path:
        self._check(dataset, wiki)
        return self.root / dataset / f"wiki={wiki}"

    def path(self, dataset: str, wiki: str, snapshot: str) -> Path:
        self._check(dataset, wiki, snapshot)
        return self.wiki_dir(dataset, wiki) / f"snapshot={snapshot}"

    # ------------------------------------------------------------------ write
    def write(
        self,
        dataset: str,
        wiki: str,
        snapshot: str,
        data: pa.Table | Iterable[pa.RecordBatch],
        *,
        run_id: str | None = None,
        inputs: Sequence[str] = (),
        schema: pa.Schema | None = None,
        sort_keys: Sequence[str] | None = None,
        extra: dict[str, Any] | None = None,
        presorted: bool = False,
    ) -> Manifest:
        """Write one snapshot partition atomically and return its manifest.

        ``presorted=True`` with an iterator of record batches already in the dataset's sort
        order streams them to the files batch by batch (each conformed on its own), so a
        dataset of any size is written in bounded memory.
        """
        self._check(dataset, wiki, snapshot)
        schema = schema if schema is not None else dataset_schema(dataset)
        source = f"lake {dataset}/wiki={wiki}/snapshot={snapshot}"
        stream = presorted and not isinstance(data, pa.Table)
        if stream:
            table = None
        else:
            table = data if isinstance(data, pa.Table) else pa.Table.from_batches(list(data), schema=schema)
            table = conform(table, schema, source=source)
            keys = list(sort_keys if sort_keys is not None else SORT_KEYS.get(dataset, ()))
            if keys and table.num_rows:
                table = table.sort_by([(k, "ascending") for k in keys])

        wiki_dir = self.wiki_dir(dataset, wiki)
        wiki_dir.mkdir(parents=True, exist_ok=True)
        self._clean_staging(wiki_dir)
        staging = wiki_dir / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            entries = []
            if table is None:
                entries = _write_stream(staging, data, schema, source)  # type: ignore[arg-type]
            else:
                n_files = max(1, -(-table.num_rows // ROWS_PER_FILE))
                for i in range(n_files):
                    part = table.slice(i * ROWS_PER_FILE, ROWS_PER_FILE)
                    name = f"part-{i:05d}.parquet"
                    target = staging / name
                    pq.write_table(part, target, compression="zstd", write_statistics=True)
                    with target.open("rb") as fh:
                        os.fsync(fh.fileno())
                    entries.append(FileEntry(name, part.num_rows, target.stat().st_size, _sha256(target)))
            content_hash = hashlib.sha256(
                (schema_fingerprint(schema) + "".join(e.sha256 for e in entries)).encode()
            ).hexdigest()
            manifest = Manifest(
                dataset=dataset,
                wiki=wiki,
                snapshot=snapshot,
                rows=sum(e.rows for e in entries),
                schema_fingerprint=schema_fingerprint(schema),
                content_hash=content_hash,
                files=tuple(entries),
                run_id=run_id,
                inputs=tuple(inputs),
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                extra=dict(extra or {}),
            )
            atomic_write_text(staging / MANIFEST, manifest.to_json())
            _fsync_dir(staging)

            final = self.path(dataset, wiki, snapshot)
            existing = self._read_manifest(final)
            if existing is not None and existing.content_hash == content_hash:
                shutil.rmtree(staging)
                return existing
            if final.exists():
                trash = wiki_dir / f".trash-{uuid.uuid4().hex}"
                os.rename(final, trash)
                os.rename(staging, final)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(staging, final)
            _fsync_dir(wiki_dir)
            return manifest
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @staticmethod
    def _clean_staging(wiki_dir: Path) -> None:
        """Remove staging/trash left behind by a crashed writer."""
        for leftover in wiki_dir.glob(".staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in wiki_dir.glob(".trash-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    # ------------------------------------------------------------------- read
    @staticmethod
    def _read_manifest(partition: Path) -> Manifest | None:
        path = partition / MANIFEST
        if not path.is_file():
            return None
        return Manifest.from_json(path.read_text("utf-8"))

    def manifest(self, dataset: str, wiki: str, snapshot: str) -> Manifest:
        found = self._read_manifest(self.path(dataset, wiki, snapshot))
        if found is None:
            raise NotFoundError(f"no snapshot {snapshot} of {dataset} for {wiki} in {self.root}")
        return found

    def snapshots(self, dataset: str, wiki: str) -> list[str]:
        wiki_dir = self.wiki_dir(dataset, wiki)
        if not wiki_dir.is_dir():
            return []
        found = [
            p.name.removeprefix("snapshot=")
            for p in wiki_dir.iterdir()
            if p.name.startswith("snapshot=") and (p / MANIFEST).is_file()
        ]
        return sorted(found)

    def latest(self, dataset: str, wiki: str) -> str | None:
        snaps = self.snapshots(dataset, wiki)
        return snaps[-1] if snaps else None

    def current(self, dataset: str, wiki: str) -> str | None:
        pointer = self.wiki_dir(dataset, wiki) / CURRENT
        if not pointer.is_file():
            return None
        return str(json.loads(pointer.read_text("utf-8"))["snapshot"])

    def exists(self, dataset: str, wiki: str, snapshot: str) -> bool:
        return (self.path(dataset, wiki, snapshot) / MANIFEST).is_file()

    def read(
        self,
        dataset: str,
        wiki: str,
        snapshot: str | None = None,
        *,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Read a snapshot (default: the published one)."""
        if snapshot is None:
            snapshot = self.current(dataset, wiki)
            if snapshot is None:
                raise NotFoundError(f"nothing published for {dataset} of {wiki} in {self.root}")
        manifest = self.manifest(dataset, wiki, snapshot)
        partition = self.path(dataset, wiki, snapshot)
        tables = [pq.read_table(partition / f.name, columns=list(columns) if columns else None) for f in manifest.files]
        if not tables:
            return dataset_schema(dataset).empty_table()
        return pa.concat_tables(tables)

    def verify(self, dataset: str, wiki: str, snapshot: str) -> list[str]:
        """Return the names of files whose checksum no longer matches the manifest."""
        manifest = self.manifest(dataset, wiki, snapshot)
        partition = self.path(dataset, wiki, snapshot)
        return [f.name for f in manifest.files if not (partition / f.name).is_file() or _sha256(partition / f.name) != f.sha256]

    # ---------------------------------------------------------------- publish
    def publish(self, dataset: str, wiki: str, snapshot: str, *, run_id: str | None = None) -> None:
        """Move the ``current`` pointer (after the gates passed)."""
        self.manifest(dataset, wiki, snapshot)  # must exist
        previous = self.current(dataset, wiki)
        pointer = {
            "snapshot": snapshot,
            "previous": previous,
            "run_id": run_id,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        atomic_write_text(self.wiki_dir(dataset, wiki) / CURRENT, json.dumps(pointer, indent=2))

    def apply_retention(self, dataset: str, wiki: str, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` snapshots; never the published one."""
        if keep < 1:
            raise ValueError("retention must keep at least one snapshot")
        current = self.current(dataset, wiki)
        snaps = self.snapshots(dataset, wiki)
        doomed = [s for s in snaps[:-keep] if s != current]
        for snap in doomed:
            part = self.path(dataset, wiki, snap)
            trash = part.with_name(f".trash-{uuid.uuid4().hex}")
            os.rename(part, trash)
            shutil.rmtree(trash, ignore_errors=True)
        return doomed

    # -------------------------------------------------------------- listing
    def datasets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME_RE.fullmatch(p.name))

    def wikis(self, dataset: str) -> list[str]:
        base = self.root / dataset
        if not base.is_dir():
            return []
        return sorted(p.name.removeprefix("wiki=") for p in base.iterdir() if p.name.startswith("wiki="))
