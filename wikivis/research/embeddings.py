"""Import the caption competition's ResNet-50 embeddings into the embedding store, in flat memory.

The files (``resnet_embeddings/*_resnet_embeddings_part-*.csv[.gz]``, see
:mod:`wikivis.research.files`) hold ``image_url \\t 2048 comma-separated floats`` per line,
no header, gzip or not whatever the name says.  Each row is mapped image URL → Commons file
name → sha1 (from the lake's ``files``/``file_metadata``) and stored under the model id
:data:`MODEL_ID`, so that ``index build --model resnet50-wmf-cc``, ``similar``, ``suggest`` and
``eval run`` work with no image downloaded.

Memory does not grow with the input (English Wikipedia + Commons: ~100M ``files`` rows,
millions of embedding rows).  Nothing keyed by file lives in a Python container; the import
runs in three steps under ``Settings.memory_limit``:

1. **Stage** (flat, streamed): the ``name → sha1`` source (the lake's datasets read with
   :meth:`~wikivis.lake.Lake.iter_batches`, or a small mapping) goes batch by batch to a
   Parquet file, each row with its precedence ``k`` (later datasets and later rows win, as
   the old ``dict.update`` did); the embedding files are read a first time for their URLs
   only (no float parsing), each non-blank line staged as ``(ord, file_name)`` with
   ``ord = file index << 40 | line number``.
2. **Resolve** (DuckDB, out of core): one query joins the staged rows to the names, the
   sha1s already stored (the ``sha1`` column of the committed shards, read by DuckDB) and,
   for duplicates within the run, the first ``ord`` of each sha1 (a grouped ``min``), and
   writes ``(ord, sha1, status)`` sorted by ``ord`` to ``plan.parquet``.  Its joins,
   aggregate and sort spill to the staging folder under ``memory_limit × DUCKDB_SHARE`` (as
   the dump ingest does, :mod:`wikivis.dumps.outofcore`); a Python dict of the same keys
   took ~0.45 KiB a row.  DuckDB is then closed and its memory handed back.
3. **Write** (flat, streamed): the embedding files are read again, parsed batch by batch
   (Arrow's vectorised split and float cast; a batch Arrow refuses is re-parsed row by row
   to name the bad line) and merged with the plan, read back in ``ord`` order: the rows
   whose status is ``keep`` go to a :class:`~wikivis.embed.store.ShardWriter`, which writes
   a shard every ``shard_rows`` vectors (4,096: 32 MiB; the Parquet write of a shard takes
   about three times that at its peak).  Vector memory is ``batch_rows + shard_rows`` rows
   (8 KiB each), whatever the input.

Reading the files twice costs the decompression once more (the first read splits at the
first tab and does not parse floats, ~10 % of the import), instead of staging 8 KiB of
vectors per row on disk or holding the keys in memory.

Idempotent: a sha1 already in the store (an earlier run) or on an earlier row of this run
is counted as ``already_present`` and not written again, so a rerun writes no shard.  A
killed import leaves whole shards only (temporary file + rename) and a staging folder under
``embeddings/.staging`` that the next import removes; its rerun skips what was written.

A malformed line (wrong column or float count, a non-number, NaN, bad UTF-8) raises
:class:`~wikivis.errors.InputError` naming the file and line; rows are never skipped
silently.  Rows whose URL maps to no file name, or whose file has no known sha1, are counted
(``unmapped_url`` / ``sha1_unknown``) and reported.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import math
import os
import shutil
import types
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np

from wikivis.embed.models import model_dir_name
from wikivis.embed.store import ShardWriter, check_version, shard_paths
from wikivis.errors import ConfigError, InputError, NotFoundError
from wikivis.research.files import RESNET_DIM, file_name_from_url, parse_embedding

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pyarrow as pa

    from wikivis.config import Settings

_gzip_impl: types.ModuleType
try:  # the fastest gzip decoder available (isal is a dependency; see wikivis.dumps.parser)
    from isal import igzip as _gzip_impl
except ImportError:  # pragma: no cover
    _gzip_impl = gzip

_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, zlib.error)
with contextlib.suppress(ImportError, AttributeError):
    from isal import isal_zlib

    _READ_ERRORS = (*_READ_ERRORS, cast(type[BaseException], isal_zlib.error))

#: the model id the published vectors are stored under
MODEL_ID = "resnet50-wmf-cc"
#: their "weights version": the 2021 release (vectors of another release must not be mixed in)
MODEL_VERSION = "wmf-caption-competition-2021"
METADATA = {
    "source": "https://analytics.wikimedia.org/published/datasets/one-off/caption_competition/",
    "preprocessing": "ResNet-50 pooled features of the 300 px image, as published (not re-computed)",
}
#: share of ``Settings.memory_limit`` given to DuckDB (the rest: interpreter, a parsed batch,
#: the shard being written); as :data:`wikivis.dumps.outofcore.DUCKDB_SHARE`
DUCKDB_SHARE = 0.75
MIN_DUCKDB_BYTES = 16 << 20
#: a hash bucket's inputs (uncompressed Parquet bytes) take at most this share of DuckDB's
#: memory (as :data:`wikivis.dumps.outofcore.BUCKET_SHARE`)
BUCKET_SHARE = 0.25
#: the most hash buckets a resolve step splits into before it gives up (out of memory)
MAX_BUCKETS = 4096
#: ``ord = file index << ORD_SHIFT | line number`` (a line number below 2**40)
ORD_SHIFT = 40
#: rows per staged Parquet row group
STAGE_ROWS = 1 << 16
#: the name → sha1 datasets, in precedence order within a wiki (later wins)


@dataclass
class EmbeddingImport:
    files: int = 0
    rows: int = 0
    imported: int = 0
    already_present: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    model_id: str = MODEL_ID

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "files": self.files,
            "rows": self.rows,
            "imported": self.imported,
            "already_present": self.already_present,
            "skipped": dict(self.skipped),
            "shards": len(self.shards),
        }


def embedding_files(inputs: Iterable[str | Path]) -> list[Path]:
    """The embedding files of ``inputs``: files as given, folders searched recursively for
    ``*embedding*.csv[.gz]`` / ``.tsv[.gz]`` (sorted)."""
    inputs = list(inputs)
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and _looks_like_data(f.name)))
        elif p.is_file():
            out.append(p)
        else:
            raise NotFoundError(f"no such file or folder: {p}")
    if not out:
        raise NotFoundError(f"no embedding file (*embedding*.csv[.gz] or .tsv[.gz]) under {', '.join(map(str, inputs))}")
    return out


def _looks_like_data(name: str) -> bool:
    """In a folder, only the embedding files (the release puts ``image_pixels`` next to them)."""
    return not name.startswith(".") and "embedding" in name and (".csv" in name or name.endswith((".tsv", ".tsv.gz")))


# --------------------------------------------------------------------------- reading


def _open_binary(path: Path) -> IO[bytes]:
    """Binary handle; gzip detected by magic bytes (the ``.csv`` names lie about it).  Both
    reads split lines on ``\\n`` only, so their line numbers agree."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], _gzip_impl.open(path, "rb"))
    return path.open("rb")


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, line without its end)`` of the non-blank lines; read errors name the file."""
    number = 0
    try:
        with _open_binary(path) as fh:
            for number, raw in enumerate(fh, start=1):
                line = raw.rstrip(b"\r\n")
                if line:
                    yield number, line
    except _READ_ERRORS as exc:
        raise InputError(f"cannot read after line {number}: {exc.__class__.__name__}: {exc}", source=str(path)) from exc


def _text(path: Path, number: int, line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8: {exc}", source=str(path), line=number) from None


def read_numbered_batches(
    path: str | Path, *, dim: int = RESNET_DIM, batch_rows: int = 1024
) -> Iterator[tuple[np.ndarray, list[str], np.ndarray]]:
    """``(line numbers int64, image URLs, float32 (n, dim))`` batches of one file, streamed."""
    p = Path(path)
    numbers: list[int] = []
    lines: list[str] = []
    for number, line in _lines(p):
        numbers.append(number)
        lines.append(_text(p, number, line))
        if len(lines) >= batch_rows:
            yield _parse_batch(p, lines, numbers, dim)
            numbers, lines = [], []
    if lines:
        yield _parse_batch(p, lines, numbers, dim)


def read_embedding_batches(
    path: str | Path, *, dim: int = RESNET_DIM, batch_rows: int = 1024
) -> Iterator[tuple[list[str], np.ndarray]]:
    """``(image URLs, float32 (n, dim))`` batches of one embedding file, streamed."""
    for _, urls, vectors in read_numbered_batches(path, dim=dim, batch_rows=batch_rows):
        yield urls, vectors


def _parse_batch(path: Path, lines: list[str], numbers: list[int], dim: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Vectorised parse of one batch of non-blank lines; any anomaly → the row-by-row parse,
    which names the line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(lines, pa.string())
        parts = pc.split_pattern(arr, "\t")
        if pc.any(pc.not_equal(pc.list_value_length(parts), 2)).as_py():
            raise ValueError("column count")
        values = pc.split_pattern(pc.list_element(parts, 1), ",")
        if pc.any(pc.not_equal(pc.list_value_length(values), dim)).as_py():
            raise ValueError("float count")
        flat = pc.cast(values.flatten(), pa.float32()).to_numpy(zero_copy_only=False)
        vectors = np.asarray(flat, dtype=np.float32).reshape(-1, dim)
        if not np.isfinite(vectors).all():
            raise ValueError("not finite")
        return np.asarray(numbers, np.int64), pc.list_element(parts, 0).to_pylist(), vectors
    except (ValueError, pa.ArrowInvalid):
        return _parse_rows(path, lines, numbers, dim)


def _parse_rows(path: Path, lines: list[str], numbers: list[int], dim: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Row-by-row parse (lenient where NumPy is, e.g. spaces around numbers); raises on the first bad line."""
    urls: list[str] = []
    vectors: list[np.ndarray] = []
    for number, line in zip(numbers, lines, strict=True):
        fields = line.split("\t")
        if len(fields) != 2:
            raise InputError(f"expected 2 tab-separated columns, found {len(fields)}", source=str(path), line=number)
        try:
            vectors.append(parse_embedding(fields[1], dim))
        except ValueError as exc:
            raise InputError(str(exc), source=str(path), line=number) from None
        urls.append(fields[0])
    return np.asarray(numbers, np.int64), urls, np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)


# --------------------------------------------------------------------------- name → sha1 sources


def _mapping_batches(mapping: Mapping[str, str]) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    items = iter(mapping.items())
    while chunk := [kv for _, kv in zip(range(STAGE_ROWS), items, strict=False)]:
        yield pa.RecordBatch.from_arrays(
            [pa.array([k for k, _ in chunk], pa.string()), pa.array([v for _, v in chunk], pa.string())],
            names=["file_name", "sha1"],
        )


# --------------------------------------------------------------------------- the import


def import_embedding_files(
    settings: Settings,
    inputs: Iterable[str | Path],
    names: Mapping[str, str] | Iterable[pa.RecordBatch],
    *,
    model_id: str = MODEL_ID,
    model_version: str = MODEL_VERSION,
    dim: int = RESNET_DIM,
    batch_rows: int = 1024,
    shard_rows: int = 4096,
    memory_limit: int | None = None,
) -> EmbeddingImport:
    """Stream the embedding files into the store of ``model_id`` (see module doc).

    ``names`` maps Commons file names to sha1: a mapping (small inputs, tests) or a stream of
    ``(file_name, sha1)`` record batches in precedence order, later rows winning (e.g.
    :func:`wikivis.research.files.lake_name_batches`).  ``memory_limit`` (bytes) defaults to ``Settings.memory_limit``.
    """
    paths = embedding_files(inputs)
    directory = settings.embeddings_root / model_dir_name(model_id)
    limit = memory_limit if memory_limit is not None else settings.memory_limit_bytes
    summary = EmbeddingImport(files=len(paths), model_id=model_id)
    with _Resolver(settings.embeddings_root / ".staging", limit) as resolver:
        shards = shard_paths(directory)
        check_version(directory, model_id, model_version, resolver.versions(shards))
        resolver.stage_names(_mapping_batches(names) if isinstance(names, Mapping) else names)
        resolver.stage_rows(paths)
        counts = resolver.resolve(shards)
        summary.rows = sum(counts.values())
        summary.already_present = counts.pop("already_present", 0)
        keep = counts.pop("keep", 0)
        summary.skipped = {k: v for k, v in sorted(counts.items()) if v}
        resolver.release()
        # read even when nothing is to be written: every line is parsed, so a malformed one
        # raises (naming file and line) on a rerun too, as it always did
        writer = ShardWriter(directory, model_id, model_version, dim, shard_rows=shard_rows,
                             metadata=METADATA) if keep else None
        plan = _Plan(resolver.plan())
        for index, path in enumerate(paths):
            for numbers, _, vectors in read_numbered_batches(path, dim=dim, batch_rows=batch_rows):
                rows, sha1s = plan.take(path, (index << ORD_SHIFT) | numbers)
                if rows.size and writer is not None:
                    writer.add(sha1s, vectors[rows])
                    summary.imported += int(rows.size)
        plan.finish()
        if writer is not None:
            writer.close()
            summary.shards = [str(p) for p in writer.written]
        if summary.imported != keep:
            raise InputError(f"the files changed during the import: {keep} rows planned, {summary.imported} written",
                             source=", ".join(map(str, paths)))
    return summary


class _Plan:
    """The resolver's ``(ord, sha1)`` rows to keep, sorted by ``ord``, consumed batch by batch."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.batches = batches
        self.ords = np.zeros(0, np.int64)
        self.sha1s: list[str] = []
        self.done = False

    def _fill(self, upto: int) -> None:
        while not self.done and (not self.ords.size or self.ords[-1] <= upto):
            batch = next(self.batches, None)
            if batch is None:
                self.done = True
                return
            ords = batch.column(0).to_numpy(zero_copy_only=False).astype(np.int64)
            if (ords.size and self.ords.size and ords[0] <= self.ords[-1]) or np.any(np.diff(ords) <= 0):
                raise AssertionError("the plan is not sorted by ord")  # an ordered COPY is (preserve_insertion_order)
            self.ords = np.concatenate([self.ords, ords])
            self.sha1s.extend(batch.column(1).to_pylist())

    def take(self, path: Path, ords: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Positions in ``ords`` (ascending) of the planned rows among them, and their sha1s."""
        if not ords.size:
            return np.zeros(0, np.int64), []
        self._fill(int(ords[-1]))
        n = int(np.searchsorted(self.ords, ords[-1], side="right"))
        wanted, sha1s = self.ords[:n], self.sha1s[:n]
        self.ords, self.sha1s = self.ords[n:], self.sha1s[n:]
        rows = np.searchsorted(ords, wanted)  # wanted <= ords[-1], so every position is in range
        if not np.array_equal(ords[rows], wanted):
            raise InputError("the file changed during the import (a planned line is gone)", source=str(path))
        return rows, sha1s

    def finish(self) -> None:
        self._fill(np.iinfo(np.int64).max)
        if self.ords.size:
            raise InputError(f"the files changed during the import: {self.ords.size} planned rows not found")


class _Resolver:
    """DuckDB under a memory limit, with a staging folder it spills to (removed on exit)."""

    def __init__(self, staging_root: Path, memory_limit: int) -> None:
        self.staging_root = staging_root
        _remove_stale(staging_root)
        self.dir = staging_root / f"import-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.dir.mkdir(parents=True)
        self.duckdb_limit = max(MIN_DUCKDB_BYTES, int(memory_limit * DUCKDB_SHARE))
        self.con: Any = None

    def __enter__(self) -> _Resolver:
        import duckdb

        self.con = duckdb.connect(config={
            "memory_limit": f"{self.duckdb_limit >> 20}MiB",
            "temp_directory": str(self.dir / "spill"),
            "threads": max(1, min(4, len(os.sched_getaffinity(0)))),
            "preserve_insertion_order": False,  # on only for the plan's sorted COPY (resolve)
        })
        self.con.execute("SET enable_progress_bar = false")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def _sql(self, sql: str, params: list[Any] | None = None) -> Any:
        import duckdb

        try:
            return self.con.execute(sql, params or [])
        except duckdb.OutOfMemoryException as exc:
            raise ConfigError(
                f"DuckDB ran out of its {self.duckdb_limit >> 20} MiB even when spilling to {self.dir}; "
                f"raise WIKIVIS_MEMORY_LIMIT ({exc})"
            ) from exc

    def versions(self, shards: list[Path]) -> set[str]:
        """Model versions of the committed shards (DuckDB reads the one column; flat)."""
        if not shards:
            return set()
        import duckdb

        try:
            rows = self._sql("SELECT DISTINCT model_version FROM read_parquet(?)", [[str(p) for p in shards]]).fetchall()
        except duckdb.Error as exc:
            raise InputError(f"unreadable embedding shard: {exc}", source=str(shards[0].parent)) from exc
        return {r[0] for r in rows}

    def stage_names(self, batches: Iterable[pa.RecordBatch]) -> None:
        """``names.parquet``: ``(file_name, sha1, k)``, ``k`` the precedence (row order)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([("file_name", pa.string()), ("sha1", pa.string()), ("k", pa.int64())])
        k = 0
        with pq.ParquetWriter(self.dir / "names.parquet", schema, compression="zstd", compression_level=1) as out:
            for batch in batches:
                n = batch.num_rows
                if n:
                    out.write_batch(pa.RecordBatch.from_arrays(
                        [batch.column("file_name").cast(pa.string()), batch.column("sha1").cast(pa.string()),
                         pa.array(np.arange(k, k + n, dtype=np.int64))], schema=schema))
                    k += n

    def stage_rows(self, paths: list[Path]) -> None:
        """``rows.parquet``: ``(ord, file_name)`` of every non-blank line (URLs only, no float parse)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if len(paths) >= 1 << (63 - ORD_SHIFT):
            raise InputError(f"{len(paths)} embedding files: too many for one import")
        schema = pa.schema([("ord", pa.int64()), ("file_name", pa.string())])
        with pq.ParquetWriter(self.dir / "rows.parquet", schema, compression="zstd", compression_level=1) as out:
            for index, path in enumerate(paths):
                ords: list[int] = []
                names: list[str | None] = []
                for number, line in _lines(path):
                    if number >= 1 << ORD_SHIFT:
                        raise InputError("more than 2**40 lines", source=str(path), line=number)
                    ords.append((index << ORD_SHIFT) | number)
                    url = line.split(b"\t", 1)[0]
                    names.append(file_name_from_url(_text(path, number, url)))
                    if len(ords) >= STAGE_ROWS:
                        out.write_batch(pa.RecordBatch.from_arrays([pa.array(ords, pa.int64()), pa.array(names, pa.string())], schema=schema))
                        ords, names = [], []
                if ords:
                    out.write_batch(pa.RecordBatch.from_arrays([pa.array(ords, pa.int64()), pa.array(names, pa.string())], schema=schema))

    def _run(self, sql: str, params: dict[str, Any], source: Path) -> Any:
        import duckdb

        try:
            return self.con.execute(sql, params)
        except duckdb.OutOfMemoryException as exc:
            raise _OutOfMemory(
                f"DuckDB ran out of its {self.duckdb_limit >> 20} MiB even when spilling to {self.dir}; "
                f"raise WIKIVIS_MEMORY_LIMIT ({exc})"
            ) from exc
        except duckdb.Error as exc:
            raise InputError(f"resolving names to sha1 failed: {exc}", source=str(source)) from exc

    def _in_buckets(self, out: Path, p: int, run: Callable[[int, int], object]) -> None:
        """``run(p, b)`` for every bucket ``b`` of ``p``, each writing its part under ``out``.
        The bucket count comes from the inputs' size, an estimate: when a bucket still runs out
        of memory (hash skew, DuckDB's per-thread buffers), start over with twice the buckets."""
        while True:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            try:
                for b in range(p):
                    run(p, b)
                return
            except _OutOfMemory:
                if p >= MAX_BUCKETS:
                    raise
                log.info("resolving names: out of memory with %d buckets, retrying with %d", p, 2 * p)
                p *= 2

    def buckets(self, *files: Path) -> int:
        """How many hash buckets keep one bucket's share of ``files`` (uncompressed Parquet
        bytes) within :data:`BUCKET_SHARE` of DuckDB's memory."""
        import pyarrow.parquet as pq

        total = 0
        for path in files:
            meta = pq.read_metadata(path)
            total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        return max(1, math.ceil(total / (self.duckdb_limit * BUCKET_SHARE)))

    def resolve(self, shards: list[Path]) -> dict[str, int]:
        """Classify the staged rows; write the ``keep`` ones to ``plan.parquet``, sorted by
        ``ord``; return the counts (``keep``, ``already_present``, ``unmapped_url``,
        ``sha1_unknown``).

        Three kinds of statement, each with one heavy operator, so that each spills on its own
        (one query holding every join, the aggregate and the sort ran out of 192 MiB at 1M
        rows): names → sha1 in buckets of ``hash(file_name)``; the stored-sha1 anti-join and
        the first row of each sha1 in buckets of ``hash(sha1)``; the sort by ``ord``.
        """
        names, rows = self.dir / "names.parquet", self.dir / "rows.parquet"

        def name_to_sha1(p: int, b: int) -> None:
            self._run(f"""
                COPY (
                    WITH r AS (SELECT ord, file_name FROM read_parquet($rows)
                               WHERE file_name IS NOT NULL AND hash(file_name) % $p = $b),
                    n AS (SELECT file_name, arg_max(sha1, k) AS sha1 FROM read_parquet($names)
                          WHERE hash(file_name) % $p = $b AND file_name IN (SELECT file_name FROM r)
                          GROUP BY file_name)
                    SELECT r.ord, nullif(n.sha1, '') AS sha1 FROM r LEFT JOIN n ON n.file_name = r.file_name
                ) TO '{_quote(self.dir / "joined" / f"{b:05d}.parquet")}' (FORMAT parquet, COMPRESSION zstd)
            """, {"rows": str(rows), "names": str(names), "p": p, "b": b}, rows)

        self._in_buckets(self.dir / "joined", self.buckets(names, rows), name_to_sha1)
        joined = str(self.dir / "joined" / "*.parquet")
        unmapped, = self._run("SELECT count(*) FROM read_parquet($rows) WHERE file_name IS NULL",
                              {"rows": str(rows)}, rows).fetchone()
        unknown, candidates = self._run(
            "SELECT count(*) FILTER (WHERE sha1 IS NULL), count(sha1) FROM read_parquet($joined)",
            {"joined": joined}, rows).fetchone()
        stored = "SELECT DISTINCT sha1 FROM read_parquet($shards) WHERE hash(sha1) % $p = $b" if shards else \
            "SELECT NULL::VARCHAR AS sha1 WHERE false"

        def first_new_row_per_sha1(p: int, b: int) -> None:
            params: dict[str, Any] = {"joined": joined, "p": p, "b": b}
            if shards:
                params["shards"] = [str(path) for path in shards]
            self._run(f"""
                COPY (
                    WITH c AS (SELECT ord, sha1 FROM read_parquet($joined)
                               WHERE sha1 IS NOT NULL AND hash(sha1) % $p = $b),
                    s AS ({stored})
                    SELECT sha1, min(ord) AS ord FROM c ANTI JOIN s ON s.sha1 = c.sha1 GROUP BY c.sha1
                ) TO '{_quote(self.dir / "keep" / f"{b:05d}.parquet")}' (FORMAT parquet, COMPRESSION zstd)
            """, params, shards[0].parent if shards else rows)

        self._in_buckets(self.dir / "keep", self.buckets(*sorted((self.dir / "joined").glob("*.parquet"))),
                         first_new_row_per_sha1)
        keep_parts = str(self.dir / "keep" / "*.parquet")
        self.con.execute("SET preserve_insertion_order = true")  # the COPY writes in ORDER BY order
        self._run(f"""
            COPY (SELECT ord, sha1 FROM read_parquet($keep) ORDER BY ord)
            TO '{_quote(self.dir / "plan.parquet")}' (FORMAT parquet, COMPRESSION zstd)
        """, {"keep": keep_parts}, rows)
        keep, = self._run("SELECT count(*) FROM read_parquet($plan)", {"plan": str(self.dir / "plan.parquet")},
                          rows).fetchone()
        return {"keep": int(keep), "already_present": int(candidates) - int(keep),
                "unmapped_url": int(unmapped), "sha1_unknown": int(unknown)}

    def release(self) -> None:
        """Close DuckDB and hand its memory back before the vectors are read (glibc keeps
        freed pages otherwise; the write phase's peak would pile onto DuckDB's)."""
        import pyarrow as pa

        from wikivis.dumps.outofcore import trim_heap

        if self.con is not None:
            self.con.close()
            self.con = None
        pa.default_memory_pool().release_unused()
        trim_heap()

    def plan(self) -> Iterator[pa.RecordBatch]:
        """The rows to write, ``(ord, sha1)`` in ``ord`` order, batch by batch."""
        import pyarrow.parquet as pq

        if not (self.dir / "plan.parquet").exists():
            return

        parquet = pq.ParquetFile(self.dir / "plan.parquet", pre_buffer=False, buffer_size=1 << 20)
        yield from parquet.iter_batches(batch_size=STAGE_ROWS, columns=["ord", "sha1"])


class _OutOfMemory(ConfigError):
    """DuckDB ran out of its memory limit even spilling (more buckets may still fit)."""


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _remove_stale(staging_root: Path) -> None:
    """Remove the staging folders of imports whose process is gone (killed runs)."""
    if not staging_root.is_dir():
        return
    for folder in staging_root.glob("import-*"):
        try:
            pid = int(folder.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # someone else's live process
            continue
