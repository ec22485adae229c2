"""Out-of-core joins of the parsed dump tables into the lake datasets, in bounded memory.

The parser writes each table of a run to Parquet parts (``parsed/<table>-<sha1>/``, flat
memory).  :class:`JoinEngine` then builds ``pages``, ``article_images``,
``article_categories`` and ``files`` with DuckDB over those parts — joins, ``DISTINCT`` and
``ORDER BY`` spill to a temporary directory when they outgrow ``memory_limit`` — and hands
each dataset back as a stream of Arrow record batches, already in the dataset's sort order
(:data:`wikivis.datasets.SORT_KEYS`), for :meth:`wikivis.lake.Lake.write` with
``presorted=True``.  Nothing holds a whole input table or dataset.

Why DuckDB (measured with ``bench/ingest_scale.py``; see docs/benchmarks.md): its hash
join, aggregate and sort all spill under ``SET memory_limit``, it reads the parser's Parquet
parts directly, and ``fetch_record_batch`` streams an ``ORDER BY`` result batch by batch.
The queries are ``sql/ingest/*.sql`` (bound ``$wiki``); tables are views over the parts.

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

import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from wikivis.datasets import base36_to_hex
from wikivis.datasets import schema as dataset_schema
from wikivis.dumps._base36 import base36_to_hex_array
from wikivis.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

SQL_DIR = Path(__file__).resolve().parent.parent.parent / "sql" / "ingest"
#: rows per streamed batch (the lake regroups them into its own row groups)
BATCH_ROWS = 1 << 16
#: share of the memory limit given to DuckDB; the rest is the Python side (interpreter,
#: Arrow batches in flight, the Parquet writer's row group)
DUCKDB_SHARE = 0.75
MIN_DUCKDB_BYTES = 32 << 20

TABLES = ("page", "linktarget", "imagelinks", "page_props", "categorylinks", "image")


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
        import duckdb

        self.tables = dict(tables)
        self.batch_rows = batch_rows
        self.temp_dir = temp_dir / f"duckdb-{uuid.uuid4().hex[:12]}"
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self.duckdb_limit = max(MIN_DUCKDB_BYTES, int(memory_limit * DUCKDB_SHARE))
        threads = threads or max(1, min(8, len(os.sched_getaffinity(0))))
        self.con = duckdb.connect(config={
            "memory_limit": f"{self.duckdb_limit // (1 << 20)}MiB",
            "temp_directory": str(self.temp_dir),
            "threads": threads,
            "preserve_insertion_order": False,
        })
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
        except duckdb.Error as exc:
            raise InputError(f"{query}: {exc}", source=source) from exc
        assert row is not None
        return tuple(row)

    def _stream(self, query: str, wiki: str, source: str) -> Iterator[pa.RecordBatch]:
        import duckdb

        try:
            reader = self.con.execute(load_sql(query), {"wiki": wiki}).fetch_record_batch(self.batch_rows)
            yield from reader
        except duckdb.Error as exc:
            raise InputError(f"{query}: {exc}", source=source) from exc

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
        return self._stream("pages", wiki, self._source("page"))

    def article_images(self, wiki: str) -> Iterator[pa.RecordBatch]:
        query = "article_images_legacy" if self._legacy("imagelinks", "il") else "article_images"
        return self._stream(query, wiki, self._source("imagelinks", "linktarget", "page", "page_props"))

    def article_categories(self, wiki: str) -> Iterator[pa.RecordBatch]:
        query = "article_categories_legacy" if self._legacy("categorylinks", "cl") else "article_categories"
        return self._stream(query, wiki, self._source("categorylinks", "linktarget", "page"))

    def files(self, commons_wiki: str) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        schema = dataset_schema("files")
        source = self._source("image")
        for batch in self._stream("files", commons_wiki, source):
            try:
                sha1 = base36_to_hex_array(batch.column("sha1"))
            except ValueError as exc:
                raise InputError(f"img_sha1 is not base 36: {exc}", source=source) from exc
            columns = [sha1 if name == "sha1" else batch.column(name) for name in schema.names]
            yield pa.RecordBatch.from_arrays(columns, names=schema.names)

    def build(self, dataset: str, wiki: str) -> Iterator[pa.RecordBatch]:
        """The batches of ``dataset`` (one of pages, article_images, article_categories, files)."""
        builders = {
            "pages": self.pages,
            "article_images": self.article_images,
            "article_categories": self.article_categories,
            "files": self.files,
        }
        return builders[dataset](wiki)
