"""Out-of-core joins of the parsed dump tables into the lake datasets, in bounded memory.

The parser writes each table of a run to Parquet parts (``parsed/<table>-<sha1>/``, flat
memory).  :class:`JoinEngine` then builds ``pages``, ``article_images``,
``article_categories`` and ``files`` with DuckDB over those parts — joins, ``DISTINCT`` and
``ORDER BY`` spill to a temporary directory when they outgrow ``memory_limit`` — and hands
each dataset back as a stream of Arrow record batches, already in the dataset's sort order
(:data:`wikivis.datasets.SORT_KEYS`), for :meth:`wikivis.lake.Lake.write` with
``presorted=True``.  Nothing holds a whole input table or dataset.

Why DuckDB: its joins, aggregates and sorts spill under ``SET memory_limit``, it reads the
parser's Parquet parts directly, and ``to_arrow_reader`` streams a result batch by batch;
it is already locked (Polars, the other candidate, is not), and it meets the budget
measured by ``bench/ingest_scale.py`` (docs/benchmarks.md).  Its own minimum (~30-50 MiB
with 2 threads) and its hash joins on long strings are what it cannot do below a limit, so
``article_images`` and ``article_categories`` run in ``page_id`` ranges sized to a share of
the limit (:meth:`JoinEngine.page_buckets`), each range joined and sorted on its own — the
ranges in order are the dataset in order.  ``pages`` and ``files`` need no sort when the
parsed table is already in key order (mysqldump writes primary-key order; checked first).
The queries are ``sql/ingest/*.sql`` (bound ``$wiki``, ``$lo``, ``$hi``); tables are views
over the parts.

The one step DuckDB cannot do is ``img_sha1``: a SHA-1 (160 bits) does not fit its 128-bit
integers, so the base-36 → hex conversion runs on each sorted batch in numpy
(:mod:`wikivis.dumps._base36`), still without per-row Python.

Bad input, before anything is written (:meth:`JoinEngine.check`): a lead-image
``page_props`` value that is not UTF-8, an ``img_size`` beyond int64 and an ``img_sha1``
that is not base 36 each raise an :class:`~wikivis.errors.InputError` naming the dump
file.  A DuckDB error while a dataset streams is an ``InputError`` naming the dump files
that dataset reads; the lake's staged write then leaves no partition behind.

Equivalence: the in-memory builders in :mod:`wikivis.dumps.ingest` are the exact oracle;
``tests/unit/dumps/test_outofcore.py`` compares both on generated sets (current and legacy
schema) under a memory limit several times smaller than the data.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from wikivis.datasets import SORT_KEYS, base36_to_hex
from wikivis.datasets import schema as dataset_schema
from wikivis.dumps._base36 import base36_to_hex_array
from wikivis.errors import ConfigError, InputError

if TYPE_CHECKING:
    import pyarrow as pa

SQL_DIR = Path(__file__).resolve().parent.parent.parent / "sql" / "ingest"
#: rows per streamed batch (the lake regroups them into its own row groups)
BATCH_ROWS = 1 << 14
#: share of the memory limit given to DuckDB; the rest is the Python side (interpreter,
#: Arrow batches in flight, the Parquet writer's row group)
DUCKDB_SHARE = 0.75
MIN_DUCKDB_BYTES = 16 << 20
#: a page_id bucket's join inputs (uncompressed Parquet bytes) take at most this share of
#: DuckDB's memory: article_images and article_categories run bucket by bucket
BUCKET_SHARE = 0.25

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
TABLES = ("page", "linktarget", "imagelinks", "page_props", "categorylinks", "image")


def trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc keeps them after DuckDB's and
    Arrow's big frees, so each dataset's peak would pile onto the last); no-op elsewhere."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def load_sql(name: str) -> str:
    """``sql/ingest/<name>.sql`` without its header comments."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    lines = text.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines).strip().rstrip(";")


@dataclass(frozen=True)
class ParsedTable:
    """One table as :func:`wikivis.dumps.parser.parse_to_parquet` wrote it."""

    table: str
    files: tuple[Path, ...]
    columns: tuple[str, ...]
    source: str  # the dump file, named in errors

    @classmethod
    def from_dir(cls, table: str, out_dir: Path, meta: Mapping[str, Any], source: str) -> ParsedTable:
        return cls(table, tuple(out_dir / name for name in meta["files"]), tuple(meta["columns"]), source)


class JoinEngine:
    """A DuckDB connection over the parsed tables of one run, with a memory limit and a
    temporary directory (removed on :meth:`close`)."""

    def __init__(
        self,
        tables: Mapping[str, ParsedTable],
        *,
        memory_limit: int,
        temp_dir: Path,
        threads: int | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.tables = dict(tables)
        self.batch_rows = batch_rows
        self.temp_dir = temp_dir / f"duckdb-{uuid.uuid4().hex[:12]}"
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self.duckdb_limit = max(MIN_DUCKDB_BYTES, int(memory_limit * DUCKDB_SHARE))
        self.threads = threads or max(1, min(8, len(os.sched_getaffinity(0))))
        self.con: Any = None
        self._connect()

    def _connect(self) -> None:
        """(Re)open the in-memory database; each dataset gets a fresh one, so the buffers a
        previous dataset's joins and sorts held go back to the system before the next."""
        import duckdb

        if self.con is not None:
            self.con.close()
        self.con = duckdb.connect(config={
            "memory_limit": f"{self.duckdb_limit // (1 << 20)}MiB",
            "temp_directory": str(self.temp_dir),
            "threads": self.threads,
        })
        self.con.execute("SET enable_progress_bar = false")  # it prints to stdout, which --json owns
        try:
            for name, parsed in self.tables.items():
                self.con.read_parquet([str(f) for f in parsed.files]).create_view(name)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> JoinEngine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
            self.con = None
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    # ---------------------------------------------------------------- helpers
    def _source(self, *tables: str) -> str:
        return ", ".join(self.tables[t].source for t in tables if t in self.tables)

    def _legacy(self, table: str, prefix: str) -> bool:
        if f"{prefix}_to" in self.tables[table].columns:
            return True
        if "linktarget" not in self.tables:
            raise InputError(
                "the run has no linktarget file, needed for the current link-table schema", source=self._source(table)
            )
        return False

    def _one(self, query: str, source: str) -> tuple[Any, ...]:
        import duckdb

        try:
            row = self.con.execute(load_sql(query)).fetchone()
        except duckdb.OutOfMemoryException as exc:
            raise self._out_of_memory(query, exc) from exc
        except duckdb.Error as exc:
            raise InputError(f"{query}: {exc}", source=source) from exc
        assert row is not None
        return tuple(row)

    def in_key_order(self, table: str, column: str) -> bool:
        """Whether ``column`` of the parsed ``table`` never decreases, in file order, and has no
        nulls — one column read batch by batch (mysqldump writes rows in primary-key order,
        so ``page`` and ``image`` normally are; then their datasets need no sort)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        previous: pa.Scalar | None = None
        try:
            for path in self.tables[table].files:
                parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)  # no read-ahead of the file
                for batch in parquet.iter_batches(batch_size=1 << 14, columns=[column]):
                    keys = batch.column(0)
                    if not len(keys):
                        continue
                    if keys.null_count:
                        return False
                    if previous is not None and pc.less(keys[0], previous).as_py():
                        return False
                    if len(keys) > 1 and not pc.all(pc.less_equal(keys[:-1], keys[1:])).as_py():
                        return False
                    previous = keys[-1]
            return True
        finally:
            pa.default_memory_pool().release_unused()

    def _input_bytes(self, *tables: str) -> int:
        """Uncompressed bytes of the parsed ``tables`` (from the Parquet footers)."""
        import pyarrow.parquet as pq

        total = 0
        for table in tables:
            for path in self.tables[table].files if table in self.tables else ():
                meta = pq.read_metadata(path)
                total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        return total

    def page_buckets(self, *tables: str) -> list[tuple[int, int]]:
        """Consecutive ``page_id`` ranges covering every page, so many that each range's share
        of ``tables`` takes at most :data:`BUCKET_SHARE` of DuckDB's memory."""
        lo, hi = self.con.execute("SELECT min(page_id), max(page_id) FROM page").fetchone()
        if lo is None:
            return [(0, -1)]
        n = max(1, math.ceil(self._input_bytes(*tables) / (self.duckdb_limit * BUCKET_SHARE)))
        width = max(1, math.ceil((hi - lo + 1) / n))
        return [(start, min(hi, start + width - 1)) for start in range(lo, hi + 1, width)]

    def _stream(
        self, dataset: str, query: str, wiki: str, source: str, *, ordered: bool = False,
        buckets: list[tuple[int, int]] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Batches of ``query``, in the dataset's key order: an ``ORDER BY`` around it, unless
        ``ordered`` says the rows already come in that order (DuckDB then keeps the file order:
        ``preserve_insertion_order``).  With ``buckets`` (``page_id`` ranges, in order) the
        query runs once per range — each join and sort then only holds one range, and the
        ranges' outputs in turn are the whole dataset in order."""
        import duckdb
        import pyarrow as pa

        sql = load_sql(query)
        keys = SORT_KEYS[dataset]
        if not ordered:
            assert all(_IDENTIFIER.fullmatch(k) for k in keys)  # our own constants, never input
            sql = f"SELECT * FROM ({sql}) ORDER BY {', '.join(keys)}"
        pool = pa.default_memory_pool()
        try:
            self._connect()
            self.con.execute(f"SET preserve_insertion_order = {'true' if ordered else 'false'}")
            for bucket in buckets if buckets is not None else [None]:
                params: dict[str, Any] = {"wiki": wiki}
                if bucket is not None:
                    params.update(lo=bucket[0], hi=bucket[1])
                reader = self.con.execute(sql, params).to_arrow_reader(self.batch_rows)
                yield from reader
                reader.close()
            pool.release_unused()  # hand the dataset's buffers back before the next
            trim_heap()
        except duckdb.OutOfMemoryException as exc:
            raise self._out_of_memory(query, exc) from exc
        except duckdb.Error as exc:
            raise InputError(f"{query}: {exc}", source=source) from exc

    def _out_of_memory(self, query: str, exc: Exception) -> ConfigError:
        return ConfigError(
            f"{query}: DuckDB ran out of its {self.duckdb_limit >> 20} MiB even when spilling to "
            f"{self.temp_dir}; raise WIKIVIS_MEMORY_LIMIT ({exc})"
        )

    # ------------------------------------------------------------------ check
    def check(self) -> None:
        """Fail on the bad values a dataset would only meet while streaming (see module doc)."""
        if "page_props" in self.tables:
            self._one("check_page_props", self._source("page_props"))
        if "image" in self.tables:
            source = self._source("image")
            size_out_of_range, irregular = self._one("check_image", source)
            if size_out_of_range:
                raise InputError(f"img_size out of range: {size_out_of_range} values do not fit int64", source=source)
            if irregular:
                for name, value in self.con.execute(load_sql("irregular_sha1")).fetchall():
                    try:
                        base36_to_hex(value)
                    except ValueError as exc:
                        raise InputError(f"img_sha1 of {name!r} is not base 36: {exc}", source=source) from exc

    # --------------------------------------------------------------- datasets
    def pages(self, wiki: str) -> Iterator[pa.RecordBatch]:
        if self.in_key_order("page", "page_id"):
            lo, hi = self.con.execute("SELECT min(page_id), max(page_id) FROM page").fetchone()
            buckets = [(lo, hi)] if lo is not None else [(0, -1)]
            return self._stream("pages", "pages", wiki, self._source("page"), ordered=True, buckets=buckets)
        return self._stream("pages", "pages", wiki, self._source("page"), buckets=self.page_buckets("page"))

    def article_images(self, wiki: str) -> Iterator[pa.RecordBatch]:
        query = "article_images_legacy" if self._legacy("imagelinks", "il") else "article_images"
        buckets = self.page_buckets("imagelinks", "page", "page_props")
        return self._stream(
            "article_images", query, wiki, self._source("imagelinks", "linktarget", "page", "page_props"), buckets=buckets
        )

    def article_categories(self, wiki: str) -> Iterator[pa.RecordBatch]:
        query = "article_categories_legacy" if self._legacy("categorylinks", "cl") else "article_categories"
        buckets = self.page_buckets("categorylinks", "page")
        return self._stream(
            "article_categories", query, wiki, self._source("categorylinks", "linktarget", "page"), buckets=buckets
        )

    def article_items(self, wiki: str) -> Iterator[pa.RecordBatch]:
        buckets = self.page_buckets("page_props", "page")
        return self._stream("article_items", "article_items", wiki, self._source("page_props", "page"), buckets=buckets)

    def files(self, commons_wiki: str) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        schema = dataset_schema("files")
        source = self._source("image")
        ordered = self.in_key_order("image", "img_name")
        for batch in self._stream("files", "files", commons_wiki, source, ordered=ordered):
            try:
                sha1 = base36_to_hex_array(batch.column("sha1"))
            except ValueError as exc:
                raise InputError(f"img_sha1 is not base 36: {exc}", source=source) from exc
            columns = [sha1 if name == "sha1" else batch.column(name) for name in schema.names]
            yield pa.RecordBatch.from_arrays(columns, names=schema.names)

    def build(self, dataset: str, wiki: str) -> Iterator[pa.RecordBatch]:
        """The batches of ``dataset`` (pages, article_images, article_categories, article_items, files)."""
        builders = {
            "pages": self.pages,
            "article_images": self.article_images,
            "article_categories": self.article_categories,
            "article_items": self.article_items,
            "files": self.files,
        }
        return builders[dataset](wiki)
