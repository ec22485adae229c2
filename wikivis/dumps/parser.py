"""Streaming parser for MySQL/MariaDB table dumps (``.sql`` or ``.sql.gz``).

What it reads: the files Wikimedia publishes (``mysqldump --opt``: one line per extended
``INSERT`` of ~1 MB, several thousand rows each) and current ``mariadb-dump`` output (the
``/*M!999999\\- enable the sandbox mode */`` first line, ``INSERT INTO `t` VALUES`` then one
row per line).  Comments (``--``, ``#``, ``/* */``, ``/*!40000 ... */;``), ``LOCK TABLES``,
``SET``, ``DROP``/``ALTER`` and any number of ``INSERT`` statements per table are handled;
``INSERT IGNORE``/``REPLACE`` and ``--complete-insert`` column lists too.  Not supported (each
an :class:`~wikivis.errors.InputError`): ``--hex-blob`` literals, ``DELIMITER`` blocks,
generated columns, and column types the DDL mapping does not know.

Memory is flat: the file is read in ``chunk_size`` pieces (8 MiB by default) and an INSERT of
any length is parsed region by region, so the buffer holds one region plus at most one row.
Batches are one region each (bounded bytes).  Speed comes from the vectorised tokeniser in
:mod:`wikivis.dumps._values`; see its docstring for the exactness argument.

Errors: every structural problem (truncated or corrupt gzip, a malformed statement, a row
with the wrong number of fields, an unknown column type, invalid UTF-8 in a text column) is
an :class:`InputError` naming the file, the byte offset in the *uncompressed* stream and the
line.  Invalid UTF-8 can instead be replaced (``invalid_utf8="replace"``): each replaced
value is counted in :attr:`ParseStats.invalid_utf8_replaced` — the default is to fail,
because a title that does not decode means the file is not what we think it is.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import types
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

import pyarrow as pa
import pyarrow.parquet as pq

from wikivis.dumps._values import (
    NEED_MORE,
    Conversion,
    Layout,
    NeedMore,
    Region,
    convert_region,
    csv_region,
    fast_region,
    slow_region,
)
from wikivis.dumps.ddl import TableSpec, parse_create_table, unquote_identifier
from wikivis.errors import ConfigError, InputError

_gzip_impl: types.ModuleType
try:  # fastest available gzip decoder (environment-measurements §9: isal ~4x python gzip)
    from isal import igzip as _gzip_impl
except ImportError:  # pragma: no cover - isal is a dependency
    try:
        from zlib_ng import gzip_ng as _gzip_impl
    except ImportError:
        _gzip_impl = gzip

CHUNK_SIZE = 8 << 20
#: longest non-INSERT statement (DDL, SET, comment) accepted before calling the file malformed
MAX_STATEMENT = 16 << 20
ROWS_PER_FILE = 5_000_000
META_FILE = "_dump.json"

_DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error)
with contextlib.suppress(ImportError, AttributeError):
    from isal import isal_zlib

    _DECOMPRESS_ERRORS += (cast(type[BaseException], isal_zlib.error),)
with contextlib.suppress(ImportError, AttributeError):
    from zlib_ng import zlib_ng

    _DECOMPRESS_ERRORS += (cast(type[BaseException], zlib_ng.error),)

_WS_RE = re.compile(rb"[ \t\r\n]*")
_WORD_RE = re.compile(rb"[A-Za-z_]+")
_INSERT_RE = re.compile(
    rb"(?:INSERT|REPLACE)(?:\s+(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE))*\s+INTO\s+"
    rb"(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)\s*(?:\(((?:`(?:[^`]|``)+`|[^)`])*)\)\s*)?VALUES[ \t\r\n]*",
    re.I,
)
_CREATE_TABLE_RE = re.compile(rb"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\b", re.I)
_STMT_TOKEN_RE = re.compile(rb"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|/\*.*?\*/|;", re.S)
#: statements skipped without interpretation (DDL housekeeping mysqldump writes)
_SKIPPED = {
    b"DROP", b"SET", b"LOCK", b"UNLOCK", b"ALTER", b"USE", b"CREATE", b"COMMIT", b"START", b"BEGIN",
    b"ROLLBACK", b"FLUSH", b"SAVEPOINT", b"RELEASE", b"SELECT",
}


@dataclass
class ParseStats:
    """What one parse saw; ``completed`` is True when the ``-- Dump completed`` footer was read."""

    table: str = ""
    rows: int = 0
    statements: int = 0
    bytes: int = 0
    regions_fast: int = 0
    regions_slow: int = 0
    invalid_utf8_replaced: int = 0
    completed: bool = False


def open_dump(path: str | Path) -> IO[bytes]:
    """Open a dump for binary reading, gunzipping when the file starts with the gzip magic."""
    p = Path(path)
    with p.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return _gzip_impl.open(p, "rb")  # type: ignore[no-any-return]
    return p.open("rb")


class DumpParser:
    """Stream the rows of one table out of a dump file as Arrow record batches.

    :param path: ``.sql`` or ``.sql.gz`` file (gzip detected by content).
    :param table: the table to read; default: the first ``CREATE TABLE`` in the file (data for
        any other table is then an error, so that nothing is dropped silently).
    :param columns: output columns (default all, in DDL order).
    :param text_columns: per-table binary columns to decode as UTF-8
        (default :data:`wikivis.dumps.ddl.DEFAULT_TEXT_COLUMNS`).
    :param decode_text: ``False`` keeps every binary column as bytes.
    :param invalid_utf8: ``"error"`` (default) or ``"replace"`` (counted in the stats).
    :param fast: use the vectorised tokeniser (``False``: exact slow path only; tests).
    :param allow_partial: accept a file without mysqldump's ``-- Dump completed`` footer.  By
        default that is an error: a file cut exactly at a statement boundary parses cleanly
        up to its end, and only the missing footer shows that rows are missing.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        table: str | None = None,
        columns: Iterable[str] | None = None,
        text_columns: Mapping[str, Iterable[str]] | None = None,
        decode_text: bool = True,
        invalid_utf8: Literal["error", "replace"] = "error",
        chunk_size: int = CHUNK_SIZE,
        fast: bool = True,
        allow_partial: bool = False,
    ) -> None:
        if invalid_utf8 not in ("error", "replace"):
            raise ValueError("invalid_utf8 must be 'error' or 'replace'")
        self.path = Path(path)
        self.source = str(self.path)
        self.requested_table = table
        self.requested_columns = list(columns) if columns is not None else None
        self.text_columns = text_columns
        self.decode_text = decode_text
        self.chunk_size = max(1024, int(chunk_size))
        self.fast = fast
        self.allow_partial = allow_partial
        self.stats = ParseStats()
        self._conv = Conversion(invalid_utf8=invalid_utf8)
        self._specs: dict[str, TableSpec] = {}
        self._target: str | None = table
        self._raw: IO[bytes] | None = None
        self._buf = b""
        self._pos = 0
        self._base = 0  # absolute offset of _buf[0]
        self._eof = False
        self._pending: tuple[str, list[str] | None] | None = None  # INSERT header read ahead
        self._header_bytes = b""  # the last INSERT header exactly as written ("INSERT INTO `t` VALUES ")
        self._exhausted = False  # no statements left
        self._started = False

    # ------------------------------------------------------------------ public
    def __enter__(self) -> DumpParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    @property
    def spec(self) -> TableSpec:
        """The target table's DDL (reads the header up to its first INSERT if needed)."""
        self._ensure_header()
        assert self._target is not None
        return self._specs[self._target]

    @property
    def output_columns(self) -> list[str]:
        spec = self.spec
        if self.requested_columns is None:
            return spec.column_names
        unknown = [c for c in self.requested_columns if c not in spec.column_names]
        if unknown:
            raise InputError(
                f"table `{spec.name}` has no column(s) {unknown}; it has {spec.column_names}", source=self.source
            )
        return self.requested_columns

    @property
    def schema(self) -> pa.Schema:
        return self.spec.arrow_schema(self.output_columns)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.batches()

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the target table's rows as record batches of :attr:`schema`."""
        if self._started:
            raise RuntimeError("a DumpParser can be iterated once")
        self._started = True
        try:
            self._ensure_header()
            schema = self.schema
            while True:
                header = self._pending or self._next_insert()
                self._pending = None
                if header is None:
                    self._exhausted = True
                    if not self.stats.completed and not self.allow_partial:
                        raise self._fail(
                            "truncated: the file ends without the '-- Dump completed' footer "
                            "(allow a partial dump explicitly to read what is there)",
                            self._base + self._pos,
                        )
                    break
                table, column_list = header
                if table != self._target:
                    if self.requested_table is None:
                        raise self._fail(
                            f"the file holds data for several tables (`{self._target}`, `{table}`); "
                            "choose one with table=",
                            self._base + self._pos,
                        )
                    for _ in self._statement(table, column_list, convert=False):
                        pass
                    continue
                self.stats.statements += 1
                for arrays in self._statement(table, column_list, convert=True):
                    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
                    self.stats.rows += batch.num_rows
                    yield batch
        finally:
            self.stats.bytes = self._base + self._pos
            self.stats.invalid_utf8_replaced = self._conv.replaced_utf8
            self.close()

    # ------------------------------------------------------------------ input
    def _open(self) -> IO[bytes]:
        if self._raw is None:
            self._raw = open_dump(self.path)
            self.stats.table = self._target or ""
        return self._raw

    def _read(self, n: int) -> bytes:
        try:
            return self._open().read(n)
        except _DECOMPRESS_ERRORS as exc:
            raise self._fail(
                f"corrupt or truncated gzip stream ({exc.__class__.__name__}: {exc})", self._base + len(self._buf)
            ) from None

    def _fill(self, want: int) -> None:
        """Make at least ``want`` bytes available after ``_pos`` (unless the file ends)."""
        have = len(self._buf) - self._pos
        if have >= want or self._eof:
            return
        parts = [self._buf[self._pos :]]
        while have < want:
            chunk = self._read(max(self.chunk_size, want - have))
            if not chunk:
                self._eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self._base += self._pos
        self._buf = b"".join(parts)
        self._pos = 0

    def _fail(self, message: str, offset: int) -> InputError:
        table = self._target or self.requested_table
        prefix = f"table `{table}`: " if table else ""
        return InputError(prefix + message, source=self.source, offset=offset, line=self._line_at(offset))

    def _line_at(self, offset: int) -> int | None:
        """1-based line number of an uncompressed offset (re-reads the file; error path only)."""
        try:
            line, done = 1, 0
            with open_dump(self.path) as fh:
                while done < offset:
                    chunk = fh.read(min(1 << 22, offset - done))
                    if not chunk:
                        break
                    line += chunk.count(b"\n")
                    done += len(chunk)
            return line
        except _DECOMPRESS_ERRORS:
            return None

    # ------------------------------------------------------------------ statements
    def _ensure_header(self) -> None:
        """Read up to the target table's first INSERT (or the end), learning its DDL."""
        while (self._target is None or self._target not in self._specs) and not self._exhausted:
            header = self._next_insert()
            if header is None:
                self._exhausted = True
                break
            if self._target is not None and header[0] != self._target:
                for _ in self._statement(*header, convert=False):
                    pass
                continue
            self._pending = header
        if self._target is None:
            raise InputError("no CREATE TABLE in the file (the parser maps columns from the file's DDL)",
                             source=self.source)
        if self._target not in self._specs:
            raise InputError(f"no CREATE TABLE `{self._target}` in the file", source=self.source)

    def _line_end(self, start: int) -> int:
        """Index of the ``\\n`` ending the line that starts at ``start`` (or the data end)."""
        while True:
            nl = self._buf.find(b"\n", start)
            if nl >= 0:
                return nl
            if self._eof:
                return len(self._buf)
            if len(self._buf) - self._pos > MAX_STATEMENT:
                raise self._fail("line too long for a statement", self._base + start)
            rel = start - self._pos
            self._fill(len(self._buf) - self._pos + self.chunk_size)
            start = self._pos + rel

    def _next_insert(self) -> tuple[str, list[str] | None] | None:
        """Skip to the next ``INSERT``; parse DDL on the way.  ``None`` at the end of the file."""
        while True:
            self._fill(1 << 16)
            m = _WS_RE.match(self._buf, self._pos)
            assert m is not None
            self._pos = m.end()
            if self._pos >= len(self._buf):
                if self._eof:
                    return None
                continue
            buf, pos = self._buf, self._pos
            if buf.startswith((b"--", b"#"), pos):
                end = self._line_end(self._pos)
                if self._buf.startswith(b"-- Dump completed", self._pos):
                    self.stats.completed = True
                self._pos = end + 1
                continue
            if buf.startswith(b"/*", pos):
                self._skip_comment()
                continue
            if buf.startswith(b";", pos):
                self._pos += 1
                continue
            word_m = _WORD_RE.match(buf, pos)
            word = word_m.group(0).upper() if word_m else b""
            if word in (b"INSERT", b"REPLACE"):
                return self._insert_header()
            if word == b"CREATE" and _CREATE_TABLE_RE.match(buf, pos):
                offset = self._base + pos
                text = self._read_statement()
                try:
                    spec = parse_create_table(
                        text.decode("utf-8", errors="replace"),
                        text_columns=self.text_columns,
                        decode_text=self.decode_text,
                    )
                except InputError as exc:
                    raise self._fail(exc.message, offset) from None
                self._specs[spec.name] = spec
                if self._target is None:
                    self._target = spec.name
                    self.stats.table = spec.name
                continue
            if word in _SKIPPED:
                self._read_statement()
                continue
            if word == b"DELIMITER":
                raise self._fail("DELIMITER blocks (stored routines, triggers) are not supported", self._base + pos)
            raise self._fail(f"unexpected statement {buf[pos : pos + 40]!r}", self._base + pos)

    def _skip_comment(self) -> None:
        start = self._pos
        while True:
            end = self._buf.find(b"*/", self._pos + 2)
            if end >= 0:
                self._pos = end + 2
                return
            if self._eof:
                raise self._fail("unterminated /* comment", self._base + self._pos)
            if len(self._buf) - self._pos > MAX_STATEMENT:
                raise self._fail("comment too long", self._base + start)
            self._fill(len(self._buf) - self._pos + self.chunk_size)

    def _read_statement(self) -> bytes:
        """Consume one non-INSERT statement through its ``;`` (quote- and comment-aware)."""
        start_abs = self._base + self._pos
        scan_from = self._pos
        while True:
            end = self._line_end(scan_from)
            text = self._buf[self._pos : end]
            if text.rstrip().endswith(b";"):
                last = None
                for tok in _STMT_TOKEN_RE.finditer(text):
                    if tok.group(0) == b";":
                        last = tok.end()
                        break
                if last is not None:
                    self._pos += last
                    return text[:last]
            if end >= len(self._buf) and self._eof:
                raise self._fail("the file ends inside a statement", start_abs)
            if end - self._pos > MAX_STATEMENT:
                raise self._fail("statement too long", start_abs)
            scan_from = end + 1

    def _insert_header(self) -> tuple[str, list[str] | None]:
        m = _INSERT_RE.match(self._buf, self._pos, self._pos + (1 << 16))
        if m is None:
            raise self._fail(f"malformed INSERT statement {self._buf[self._pos : self._pos + 60]!r}",
                             self._base + self._pos)
        table = unquote_identifier(m.group(1).decode("utf-8", errors="replace"))
        column_list = None
        if m.group(2) is not None:
            column_list = [unquote_identifier(c) for c in m.group(2).decode("utf-8", errors="replace").split(",")]
        if table not in self._specs:
            raise self._fail(
                f"INSERT into `{table}` before its CREATE TABLE (the parser maps columns from the file's DDL)",
                self._base + self._pos,
            )
        self._header_bytes = m.group(0)
        self._pos = m.end()
        return table, column_list

    # ------------------------------------------------------------------ values
    def _layout(self, table: str, column_list: list[str] | None, convert: bool) -> Layout:
        spec = self._specs[table]
        if column_list is not None:
            if sorted(column_list) != sorted(spec.column_names):
                raise self._fail(
                    f"INSERT column list {column_list} does not name every column of `{table}` once",
                    self._base + self._pos,
                )
            by_name = {c.name: c for c in spec.columns}
            spec = TableSpec(spec.name, tuple(by_name[n] for n in column_list))
        if not convert:
            return Layout(spec, ())
        names = spec.column_names
        return Layout(spec, tuple(names.index(n) for n in self.output_columns))

    def _statement(self, table: str, column_list: list[str] | None, *, convert: bool) -> Iterator[list[pa.Array]]:
        """Parse one INSERT's rows (``_pos`` is just after ``VALUES``), yielding column lists."""
        layout = self._layout(table, column_list, convert)
        want = self.chunk_size
        first = True
        while True:
            self._fill(4)
            if not first and self._buf.startswith(b"\n", self._pos):
                self._pos += 1
            first = False
            end_at = self._buf.find(b");\n", self._pos)
            if end_at < 0 and self._eof:
                tail = self._buf.rstrip()
                if tail.endswith(b");") and len(tail) - 2 >= self._pos:
                    end_at = len(tail) - 2
            if end_at < 0 and not self._eof and len(self._buf) - self._pos < want:
                self._fill(want)
                continue
            merged = self._merged_region(layout, end_at) if end_at >= 0 else None
            region = merged if merged is not None else self._region(layout, end_at)
            if isinstance(region, NeedMore):
                want = max(want, len(self._buf) - self._pos) * 2
                self._fill(want)
                continue
            want = self.chunk_size
            region_start = self._base + self._pos
            if convert:
                yield self._convert(region, layout, region_start)
            if region.error is not None:
                raise region.error
            if convert:
                self.stats.statements += region.statements - 1
            self._pos += region.consumed
            if region.ended:
                return

    def _merged_region(self, layout: Layout, end_at: int) -> Region | None:
        """Several whole INSERTs of an integer table in one CSV region (Wikimedia writes ~1 MB
        statements; one Arrow call per statement would cost ~15 %), or ``None``."""
        if not (self.fast and layout.csv_ok and self._header_bytes):
            return None
        buf = self._buf
        sep = b");\n" + self._header_bytes + b"("
        stop, count, limit = end_at, 1, self._pos + self.chunk_size
        while stop < limit and buf.startswith(sep, stop):
            nxt = buf.find(b");\n", stop + len(sep))
            if nxt < 0:
                break
            stop, count = nxt, count + 1
        if count == 1:
            return None
        region = csv_region(buf, self._pos, len(buf), layout, end=stop + 1, statement_sep=sep)
        if region is not None:
            self.stats.regions_fast += 1
        return region

    def _region(self, layout: Layout, end_at: int) -> Region | NeedMore:
        buf, pos = self._buf, self._pos
        if self.fast:
            end = end_at + 1 if end_at >= 0 else None
            csv_result = csv_region(buf, pos, len(buf), layout, end=end)
            if csv_result is not None:
                self.stats.regions_fast += 1
                return csv_result
            result = fast_region(buf, pos, len(buf), layout, end=end_at + 1 if end_at >= 0 else None)
            if isinstance(result, Region):
                self.stats.regions_fast += 1
                return result
            if result is NEED_MORE and not self._eof:
                return result
        base = self._base

        def fail(message: str, at: int) -> InputError:
            return self._fail(message, base + at)

        result = slow_region(buf, pos, len(buf), layout, eof=self._eof, fail=fail)
        if isinstance(result, Region):
            self.stats.regions_slow += 1
        return result

    def _convert(self, region: Region, layout: Layout, region_start: int) -> list[pa.Array]:
        def fail_at(message: str, field_index: int) -> InputError:
            return self._fail(message, region_start + region.field_offset(field_index))

        return convert_region(region, layout, self._conv, fail_at)


def iter_batches(path: str | Path, **options: Any) -> Iterator[pa.RecordBatch]:
    """Shorthand for ``iter(DumpParser(path, **options))``."""
    yield from DumpParser(path, **options)


@dataclass
class ParseResult:
    """What :func:`parse_to_parquet` wrote."""

    table: str
    rows: int
    out_dir: Path
    files: list[str]
    columns: dict[str, str]  # name → mysql type
    stats: ParseStats = field(default_factory=ParseStats)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        return d


def parse_to_parquet(
    path: str | Path,
    out_dir: str | Path,
    *,
    rows_per_file: int = ROWS_PER_FILE,
    compression: str = "zstd",
    batch_filter: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
    meta: Mapping[str, Any] | None = None,
    **options: Any,
) -> ParseResult:
    """Parse ``path`` into a Parquet dataset at ``out_dir`` (``part-NNNNN.parquet`` + ``_dump.json``).

    ``options`` go to :class:`DumpParser`; ``batch_filter`` may drop rows of each batch
    before it is written (``rows`` then counts the rows kept; ``stats.rows`` all rows);
    ``meta`` is added to ``_dump.json``.

    Atomic: the dataset is written into a staging directory beside ``out_dir`` and renamed
    into place only when the whole file parsed; on any error nothing appears (an existing
    ``out_dir`` is left as it was).

    Only what this function wrote is ever replaced: an existing ``out_dir`` must be empty or
    hold exactly a dataset written here (``_dump.json`` and the files it lists); anything
    else — the user's other files, the input itself — is refused with a
    :class:`~wikivis.errors.ConfigError` before any work is done.
    """
    out_dir = Path(out_dir)
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.staging-{uuid.uuid4().hex}"
    staging.mkdir()
    files: list[str] = []
    kept = 0
    try:
        with DumpParser(path, **options) as parser:
            schema = parser.schema
            writer: pq.ParquetWriter | None = None
            in_file = 0

            def new_writer() -> pq.ParquetWriter:
                name = f"part-{len(files):05d}.parquet"
                files.append(name)
                return pq.ParquetWriter(staging / name, schema, compression=compression)

            try:
                for batch in parser:
                    if batch_filter is not None:
                        batch = batch_filter(batch)
                    kept += batch.num_rows
                    while batch.num_rows:
                        if writer is None or in_file >= rows_per_file:
                            if writer is not None:
                                writer.close()
                            writer, in_file = new_writer(), 0
                        part = batch.slice(0, rows_per_file - in_file)
                        writer.write_batch(part)
                        in_file += part.num_rows
                        batch = batch.slice(part.num_rows)
                if writer is None:
                    writer = new_writer()  # an empty table still gets a file carrying the schema
            finally:
                if writer is not None:
                    writer.close()
            spec = parser.spec
            result = ParseResult(
                table=spec.name,
                rows=kept,
                out_dir=out_dir,
                files=files,
                columns={c.name: c.sql_type for c in spec.columns if c.name in schema.names},
                stats=parser.stats,
            )
        info = result.as_dict() | {"source": str(path)} | dict(meta or {})
        (staging / META_FILE).write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
        if out_dir.exists():
            _check_replaceable(out_dir)
            trash = out_dir.parent / f".{out_dir.name}.trash-{uuid.uuid4().hex}"
            os.rename(out_dir, trash)
            os.rename(staging, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
        return result
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _check_replaceable(out_dir: Path) -> None:
    """Refuse an ``out_dir`` that holds anything :func:`parse_to_parquet` did not write."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise ConfigError(f"{out_dir} exists and is not a directory: choose a new or empty output directory")
    entries = sorted(p.name for p in out_dir.iterdir())
    if not entries:
        return
    try:
        listed = set(parsed_meta(out_dir).get("files") or [])
    except (OSError, ValueError, AttributeError):
        listed = None
    foreign = [name for name in entries if listed is None or (name != META_FILE and name not in listed)]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ConfigError(
            f"refusing to replace {out_dir}: it is not empty and not a dataset written by `wikivis dumps parse` "
            f"(it holds {shown}); choose a new or empty output directory"
        )


def parsed_meta(out_dir: str | Path) -> dict[str, Any]:
    """The ``_dump.json`` of a dataset written by :func:`parse_to_parquet`."""
    return dict(json.loads((Path(out_dir) / META_FILE).read_text(encoding="utf-8")))


def read_parsed(out_dir: str | Path, columns: list[str] | None = None) -> pa.Table:
    """Read a dataset written by :func:`parse_to_parquet` (its files, in order)."""
    out_dir = Path(out_dir)
    meta = parsed_meta(out_dir)
    tables = [pq.read_table(out_dir / name, columns=columns) for name in meta["files"]]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]
