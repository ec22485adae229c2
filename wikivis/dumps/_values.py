"""Tokenising the ``VALUES`` of an ``INSERT``: a vectorised fast path and an exact slow path.

Grammar accepted (what ``mysqldump``/``mariadb-dump`` write, nothing looser)::

    values := row ( "," ["\\n"] row )* ";"
    row    := "(" field ( "," field )* ")"
    field  := "NULL" | "'" ( "\\" any-byte | [^'\\] )* "'" | bare-number

Quoted values are allowed only in string/binary columns and bare tokens (numbers) only in
numeric ones; ``NULL`` anywhere.  Escapes follow the MySQL server exactly (checked against
MariaDB's ``SELECT HEX('...')``): ``\\0 \\n \\r \\Z \\b \\t`` give NUL, LF, CR, 0x1A, BS, TAB;
``\\%`` and ``\\_`` keep their backslash (they are LIKE-pattern escapes, the server stores
``\\%``); every other ``\\x`` gives ``x`` (so ``\\\\ \\' \\"`` give ``\\ ' "``).

**CSV path** (:func:`csv_region`).  Regions without quotes or backslashes — integer tables
such as ``imagelinks``, ``pagelinks``, by far the biggest dumps — become CSV lines by
replacing the row separators, and ``pyarrow.csv`` (one thread) parses and converts them;
consecutive INSERTs are merged into one region.  Anything unusual declines (see there).

**Fast path** (:func:`fast_region`).  A region of the buffer is analysed with numpy only:

1. backslash runs → escape-start positions (the even-offset members of each run); quotes
   that are not escaped → string spans (pairs).  If every backslash lies inside a span the
   spans are exactly those of a left-to-right state machine (a run of backslashes cannot
   straddle a quote).
2. commas outside spans are the field terminators; every ``ncols``-th one ends a row and must
   sit between ``)`` and ``(`` (or ``\\n(``), the same separator throughout the region.
3. each quote pair must cover a whole field of a string column; every other field of a string
   column must be ``NULL``.
4. the content bytes of all fields are compacted into one buffer with one boolean mask
   (separators, quotes and escape backslashes removed, escaped bytes mapped), giving one
   Arrow ``binary`` array of all fields by offsets; columns are taken from it and converted
   with Arrow casts (shared with the slow path, so numeric semantics are identical).

Any check that fails makes the fast paths *decline*; the caller then runs :func:`slow_region`
on the same bytes, which either parses them exactly or raises an ``InputError`` with the
byte offset of the first bad token.  The slow path is a straightforward regex-per-token
loop (~1 µs per field).  Randomised tests mutate valid dumps byte by byte and require the
fast paths and the exact path to accept the same files with the same values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from wikivis.dumps.ddl import Column, TableSpec
from wikivis.errors import InputError

#: byte → byte for the escaped character after a backslash (identity except the 6 controls)
_ESC_MAP = np.arange(256, dtype=np.uint8)
for _ch, _val in ((b"0", 0), (b"n", 10), (b"r", 13), (b"Z", 26), (b"b", 8), (b"t", 9)):
    _ESC_MAP[_ch[0]] = _val
#: escapes whose backslash the server keeps
_KEEP_BACKSLASH = np.zeros(256, dtype=bool)
_KEEP_BACKSLASH[[ord("%"), ord("_")]] = True
_ESC_BYTES = {bytes([c]): bytes([int(_ESC_MAP[c])]) for c in range(256)}
_ESC_BYTES[b"%"] = b"\\%"
_ESC_BYTES[b"_"] = b"\\_"

#: bytes a bare numeric token may contain (N, U, L because null slots keep their "NULL")
_NUMERIC_OK = np.zeros(256, dtype=bool)
_NUMERIC_OK[list(b"0123456789+-.eENUL")] = True

_EMPTY = np.empty(0, dtype=np.int64)
#: built without ``pa.array``: that function imports pandas (half a second) on first use
_NO_FIELDS = pa.Array.from_buffers(pa.binary(), 0, [None, pa.py_buffer(np.zeros(1, dtype=np.int32)), pa.py_buffer(b"")])


def _indices(start: int, stop: int, step: int) -> pa.Array:
    """``np.arange`` as an Arrow int64 array, zero-copy."""
    idx = np.arange(start, stop, step, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(idx), [None, pa.py_buffer(idx)])
_QUOTED_RE = re.compile(rb"'((?:[^'\\]++|\\.)*+)'", re.S)
_BARE_RE = re.compile(rb"[^,()';\\]*")
_ESC_RE = re.compile(rb"\\(.)", re.S)


class NeedMore:
    """Sentinel: the region holds no complete row yet."""


NEED_MORE = NeedMore()


@dataclass
class Layout:
    """What the tokeniser needs to know about a table, precomputed once."""

    spec: TableSpec
    selected: tuple[int, ...]  # indices of the columns to convert, in output order
    quoted_cols: np.ndarray = field(init=False)
    #: every column is an integer or a quoted kind: quote-free regions can use Arrow's CSV reader
    csv_ok: bool = field(init=False)

    def __post_init__(self) -> None:
        self.quoted_cols = np.array([c.quoted for c in self.spec.columns], dtype=bool)
        self.csv_ok = all(c.kind == "int" or c.quoted for c in self.spec.columns)

    @property
    def ncols(self) -> int:
        return len(self.spec.columns)


@dataclass
class Region:
    """Rows parsed from one region of the buffer."""

    fields: pa.BinaryArray  # all fields, row-major (nrows * ncols), nulls for NULL
    nrows: int
    consumed: int  # bytes of the buffer consumed (from the region start)
    ended: bool  # the statement's ';' was consumed
    field_offset: Callable[[int], int]  # field index → byte offset relative to the region start
    fast: bool
    arrays: list[pa.Array] | None = None  # already converted selected columns (CSV path)
    statements: int = 1  # INSERT statements covered (the CSV path merges consecutive ones)
    #: the exact path stopped at this structural error after ``nrows`` good rows; it is raised
    #: once those rows are converted, so that the first error *in file order* is the one reported
    error: InputError | None = None


@dataclass
class Conversion:
    """Per-column conversion options and counters."""

    invalid_utf8: str = "error"  # or "replace"
    replaced_utf8: int = 0


def unescape(raw: bytes) -> bytes:
    """MySQL string-literal unescaping of the bytes between the quotes."""
    if b"\\" not in raw:
        return raw
    return _ESC_RE.sub(lambda m: _ESC_BYTES[m.group(1)], raw)


# --------------------------------------------------------------------------- CSV path
#: bytes whose presence sends a quote-free region elsewhere: quotes/escapes (strings), hex
#: digits' "x", whitespace (Arrow's CSV reader trims it around numbers), CR (a CSV newline), ';'
_CSV_REFUSE = (b"'", b"\\", b"x", b"X", b" ", b"\t", b"\r", b";")
_CSV_PARSE = pacsv.ParseOptions(quote_char=False, escape_char=False, double_quote=False, ignore_empty_lines=False)


def csv_region(
    buf: bytes, start: int, stop: int, layout: Layout, *, end: int | None, statement_sep: bytes | None = None
) -> Region | None:
    """Quote-free regions (integer tables such as imagelinks, pagelinks) through ``pyarrow.csv``.

    The rows are made into CSV lines by replacing the row separator (``),(`` or ``),\n(``)
    with a newline; any other parenthesis left over sits inside a token and fails the
    integer conversion, a wrong field count fails the reader, and the row count must equal
    the number of separators + 1.  String columns must be all NULL here.  ``None`` declines.

    ``statement_sep`` (``);\nINSERT INTO `t` VALUES (``, exactly as the file writes it) lets one
    region span several consecutive INSERTs of Wikimedia's ~1 MB statements.
    """
    if not layout.csv_ok or buf[start : start + 1] != b"(":
        return None
    first_sep = buf.find(b"),", start, stop)
    if first_sep < 0:
        return None
    sep = b"),\n(" if buf[first_sep + 2 : first_sep + 3] == b"\n" else b"),("
    if end is not None:
        body_stop, consumed, ended = end - 1, end + 1 - start, True
        if buf[body_stop : body_stop + 1] != b")":
            return None
    else:
        last = buf.rfind(sep, start, stop)
        if last < 0:
            return None
        body_stop, consumed, ended = last, last + 2 - start, False
    if buf.find(b"'", start, body_stop) >= 0 or buf.find(b"\\", start, body_stop) >= 0:
        return None  # strings: the vectorised tokeniser's job (checked before any copying)
    body = buf[start + 1 : body_stop]
    statements = 1
    if statement_sep is not None:
        joined = body.replace(statement_sep, b"\n")
        statements += (len(body) - len(joined)) // (len(statement_sep) - 1)
        body = joined
    lines = body.replace(sep, b"\n")
    nrows = (len(body) - len(lines)) // (len(sep) - 1) + statements
    for refused in _CSV_REFUSE:
        if lines.find(refused) >= 0:
            return None
    columns = layout.spec.columns
    names = [f"c{i}" for i in range(len(columns))]
    wanted = sorted(set(layout.selected) | {i for i, c in enumerate(columns) if c.quoted})
    try:
        table = pacsv.read_csv(
            pa.py_buffer(lines),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=names, block_size=len(lines) + 1),
            parse_options=_CSV_PARSE,
            convert_options=pacsv.ConvertOptions(
                column_types={names[i]: columns[i].arrow_type if columns[i].kind == "int" else pa.binary()
                              for i in wanted},
                include_columns=[names[i] for i in wanted],
                null_values=["NULL"],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != nrows:
        return None
    for i, c in enumerate(columns):
        if c.quoted and table.column(names[i]).null_count != nrows:
            return None  # a bare token in a string column
    arrays = [table.column(names[i]).combine_chunks() for i in layout.selected]
    return Region(_NO_FIELDS, nrows, consumed, ended, lambda k: 0, fast=True, arrays=arrays, statements=statements)


# --------------------------------------------------------------------------- fast path
def _escape_starts(a: np.ndarray) -> np.ndarray:
    """Positions of backslashes that start an escape (even offset within their run)."""
    b = np.flatnonzero(a == 92)
    if not len(b):
        return _EMPTY
    idx = np.arange(len(b))
    run_start = np.empty(len(b), dtype=bool)
    run_start[0] = True
    np.not_equal(b[1:], b[:-1] + 1, out=run_start[1:])
    first = np.maximum.accumulate(np.where(run_start, idx, 0))
    starts: np.ndarray = b[((idx - first) & 1) == 0]
    return starts


def fast_region(buf: bytes, start: int, stop: int, layout: Layout, *, end: int | None) -> Region | NeedMore | None:
    """Vectorised parse of ``buf[start:stop]`` (which begins at a row's ``(``).

    ``end`` is the buffer position of the statement's ``;`` when the caller found a candidate
    (it is verified here), else ``None``: then only the complete rows are parsed.  Returns
    ``None`` to decline (the caller falls back to :func:`slow_region`).
    """
    if end is not None:
        stop = end + 1
    a = np.frombuffer(buf, dtype=np.uint8, count=stop - start, offset=start)
    n = len(a)
    if n < 2 or a[0] != 40:
        return None
    ncols = layout.ncols
    esc = _escape_starts(a) if buf.find(b"\\", start, stop) >= 0 else _EMPTY
    q = np.flatnonzero(a == 39) if buf.find(b"'", start, stop) >= 0 else _EMPTY
    escaped = None
    if len(esc):
        escaped = np.zeros(n + 1, dtype=bool)
        escaped[esc + 1] = True
        if len(q):
            q = q[~escaped[q]]

    rel_end = None if end is None else end - start
    limit = n if rel_end is None else rel_end
    # an outside ';' before the candidate end (or any, when there is none) → let the slow path decide
    if buf.find(b";", start, start + limit) >= 0:
        s_pos = np.flatnonzero(a[:limit] == 59)
        if not len(q) or (np.searchsorted(q, s_pos) % 2 == 0).any():
            return None
    if rel_end is not None and len(q) and np.searchsorted(q, rel_end) % 2:
        return None  # the candidate ';' is inside a string

    c = np.flatnonzero(a[:limit] == 44)
    if len(q):
        c = c[np.searchsorted(q, c) % 2 == 0]
    if rel_end is not None:
        n_fields = len(c) + 1
        if n_fields % ncols:
            return None
        nrows = n_fields // ncols
        term = np.empty(n_fields, dtype=np.int64)
        term[:-1] = c
        term[-1] = rel_end
        consumed = rel_end + 1
    else:
        nrows = len(c) // ncols
        if nrows == 0:
            return NEED_MORE
        n_fields = nrows * ncols
        term = c[:n_fields].astype(np.int64)
        consumed = int(term[-1]) + 1
    row_comma = term[ncols - 1 :: ncols].copy()  # comma (or ';') after each row
    term[ncols - 1 :: ncols] -= 1  # the last field of a row ends at its ')'
    if not (a[row_comma - 1] == 41).all():
        return None
    sepw = 3
    if nrows > 1:
        inner = row_comma[:-1]
        after = a[inner + 1]
        if (after == 40).all():
            sepw = 3
        elif (after == 10).all() and (a[inner + 2] == 40).all():
            sepw = 4
        else:
            return None

    s = np.empty(n_fields, dtype=np.int64)
    s[0] = 1
    s[1:] = term[:-1] + 1
    s[ncols::ncols] += sepw - 1
    body_end = int(term[-1])  # the final ')'

    # fields start right after a separator (outside strings), so a quote there opens a string;
    # the quoted fields' opening and closing quotes must then be all the unescaped quotes
    qv = q[: np.searchsorted(q, body_end)] if len(q) else _EMPTY
    quoted = a[s] == 39
    n_quoted = int(quoted.sum())
    if 2 * n_quoted != len(qv):
        return None
    if n_quoted:
        qk = np.flatnonzero(quoted)
        closing = term[qk] - 1
        if not ((closing > s[qk]).all() and (a[closing] == 39).all()):
            return None
        if escaped is not None and escaped[closing].any():
            return None
        if not layout.quoted_cols[qk % ncols].all():
            return None
    esc_field = _EMPTY
    if len(esc):
        esc = esc[: np.searchsorted(esc, body_end)]
        if len(esc):
            esc_field = np.searchsorted(s, esc, side="right") - 1
            if not (quoted[esc_field].all() and (esc < term[esc_field] - 1).all()):
                return None  # a backslash outside any string

    nulls = _EMPTY
    if buf.find(b"N", start, start + body_end) >= 0 and buf.find(b"NULL", start, start + body_end) >= 0:
        cand = np.flatnonzero((term - s == 4) & ~quoted)
        if len(cand):
            st = s[cand]
            hit = (a[st] == 78) & (a[st + 1] == 85) & (a[st + 2] == 76) & (a[st + 3] == 76)
            nulls = cand[hit]
    n_quoted_cols = int(layout.quoted_cols.sum())
    if n_quoted_cols:
        nulls_in_quoted = int(layout.quoted_cols[nulls % ncols].sum()) if len(nulls) else 0
        if n_quoted + nulls_in_quoted != nrows * n_quoted_cols:
            return None  # a bare token in a string column

    # compact the content bytes of every field into one buffer
    keep = np.ones(body_end, dtype=bool)
    keep[0] = False
    keep[term[:-1]] = False
    row_ends = term[ncols - 1 : -1 : ncols]
    for extra in range(1, sepw):
        keep[row_ends + extra] = False
    if len(qv):
        keep[qv] = False
    src = a[:body_end]
    esc_del = esc
    if len(esc):
        drop = ~_KEEP_BACKSLASH[src[esc + 1]]
        esc_del, esc_field = esc[drop], esc_field[drop]
        if len(esc_del):
            src = src.copy()
            src[esc_del + 1] = _ESC_MAP[src[esc_del + 1]]
            keep[esc_del] = False
    compact = src[keep]

    # deleted bytes before each field's content: '(' + one terminator per earlier field +
    # the rest of each earlier row separator + both quotes of earlier quoted fields (and this
    # field's opening quote) + escape backslashes in earlier fields
    kidx = np.arange(n_fields, dtype=np.int64)
    deleted = 1 + kidx + (sepw - 1) * (kidx // ncols)
    if n_quoted:
        deleted += 2 * np.cumsum(quoted) - quoted
    if len(esc_del):
        per_field = np.bincount(esc_field, minlength=n_fields)
        deleted += np.cumsum(per_field) - per_field
    offsets = np.empty(n_fields + 1, dtype=np.int32)
    offsets[:-1] = s + quoted - deleted
    offsets[-1] = len(compact)

    validity = None
    if len(nulls):
        valid = np.ones(n_fields, dtype=bool)
        valid[nulls] = False
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    fields = pa.Array.from_buffers(
        pa.binary(),
        n_fields,
        [validity, pa.py_buffer(offsets), pa.py_buffer(compact)],
        null_count=len(nulls),
    )
    return Region(fields, nrows, consumed, rel_end is not None, lambda k: int(s[k]), fast=True)


# --------------------------------------------------------------------------- slow path
class _Incomplete(Exception):
    pass


def slow_region(
    buf: bytes, start: int, stop: int, layout: Layout, *, eof: bool, fail: Callable[[str, int], InputError]
) -> Region | NeedMore:
    """Exact, sequential parse of the rows in ``buf[start:stop]``.

    Parses complete rows until the statement's ``;`` or the end of the data.  A row is kept
    only when the separator after it is visible.  ``fail(message, position)`` builds the
    error for a buffer position.
    """
    ncols = layout.ncols
    quoted_cols = layout.quoted_cols
    tokens: list[bytes | None] = []
    offsets: list[int] = []
    pos = start
    consumed = start
    nrows = 0
    ended = False

    row_start = start
    error: InputError | None = None

    def need(p: int, what: str, at: int | None = None) -> None:
        if p >= stop:
            if eof:
                raise fail(f"the file ends inside an INSERT statement (expected {what})", row_start if at is None else at)
            raise _Incomplete

    try:
        while True:
            row_start = pos
            need(pos, "'('")
            if buf[pos] != 40:
                raise fail(f"expected '(' to start a row, found {buf[pos : pos + 20]!r}", pos)
            pos += 1
            row: list[bytes | None] = []
            row_offsets: list[int] = []
            for j in range(ncols):
                need(pos, "a value")
                row_offsets.append(pos)
                if buf[pos] == 39:
                    m = _QUOTED_RE.match(buf, pos, stop)
                    if m is None:  # no closing quote before the end of the data
                        need(stop, "the closing quote of a string", at=pos)
                        raise _Incomplete
                    if not quoted_cols[j]:
                        raise fail(
                            f"quoted value in numeric column `{layout.spec.columns[j].name}`", pos
                        )
                    row.append(unescape(m.group(1)))
                    pos = m.end()
                else:
                    m = _BARE_RE.match(buf, pos, stop)
                    assert m is not None
                    token = m.group(0)
                    if m.end() >= stop:
                        need(stop, "the end of a value")
                    if token == b"NULL":
                        row.append(None)
                    elif not token:
                        raise fail(f"expected a value, found {buf[pos : pos + 20]!r}", pos)
                    elif quoted_cols[j]:
                        raise fail(
                            f"unquoted value {token[:40]!r} in string column `{layout.spec.columns[j].name}`", pos
                        )
                    else:
                        row.append(token)
                    pos = m.end()
                need(pos, "',' or ')'")
                sep = buf[pos]
                if j < ncols - 1:
                    if sep != 44:
                        got = "the row ends" if sep == 41 else f"found {buf[pos : pos + 20]!r}"
                        raise fail(f"row has {j + 1} fields but the table has {ncols} ({got})", row_offsets[0] - 1)
                elif sep != 41:
                    got = "more fields follow" if sep == 44 else f"found {buf[pos : pos + 20]!r}"
                    raise fail(f"row has more than {ncols} fields ({got})", row_offsets[0] - 1)
                pos += 1
            # the separator after the row decides whether the row is complete
            need(pos, "',' or ';'")
            ch = buf[pos]
            if ch == 59:
                next_pos, ended = pos + 1, True
            elif ch == 44:
                need(pos + 1, "'('")
                nxt = pos + 1
                if buf[nxt] == 10:
                    need(nxt + 1, "'('")
                    nxt += 1
                if buf[nxt] != 40:
                    raise fail(f"expected '(' after ',', found {buf[nxt : nxt + 20]!r}", nxt)
                next_pos = nxt
            else:
                raise fail(f"expected ',' or ';' after a row, found {buf[pos : pos + 20]!r}", pos)
            tokens.extend(row)
            offsets.extend(row_offsets)
            nrows += 1
            consumed = next_pos
            pos = next_pos
            if ended:
                break
    except _Incomplete:
        if nrows == 0:
            return NEED_MORE
    except InputError as exc:
        if nrows == 0:
            raise
        error = exc
    fields = pa.array(tokens, type=pa.binary())
    return Region(fields, nrows, consumed - start, ended, lambda k: offsets[k] - start, fast=False, error=error)


# --------------------------------------------------------------------------- conversion
def convert_region(
    region: Region, layout: Layout, conv: Conversion, fail_at: Callable[[str, int], InputError]
) -> list[pa.Array]:
    """Convert the selected columns of a region.  ``fail_at(message, field_index)`` builds errors.

    Integer columns are parsed together: one Arrow cast of the whole row-major field array
    (non-integer fields masked out as nulls) to int64, then numpy de-interleaves and narrows
    each column.  When that is not exact (a BIGINT UNSIGNED value above 2^63, a value out of
    an INT's range, garbage) the column goes through the per-column path, which gives the
    same values or the precise error.  Other columns are taken out one by one and cast.
    """
    if region.arrays is not None:
        return region.arrays
    ncols = layout.ncols
    columns = layout.spec.columns
    out: dict[int, pa.Array] = {}
    errors: list[_BadValue] = []
    int_cols = [j for j in layout.selected if columns[j].kind == "int"]
    if int_cols:
        try:
            out.update(_convert_ints(region, layout, int_cols))
        except _BadValue as bad:
            errors.append(bad)
    n = len(region.fields)
    for j in layout.selected:
        if j in out:
            continue
        values = region.fields if ncols == 1 else region.fields.take(_indices(j, n, ncols))

        def bad_row(message: str, row: int, j: int = j) -> _BadValue:
            return _BadValue(message, row * ncols + j)

        try:
            out[j] = convert_column(values, columns[j], conv, bad_row)
        except _BadValue as bad:
            errors.append(bad)
    if errors:  # report the first bad value in file order
        first = min(errors, key=lambda e: e.field_index)
        raise fail_at(first.message, first.field_index)
    return [out[j] for j in layout.selected]


class _BadValue(Exception):
    def __init__(self, message: str, field_index: int) -> None:
        super().__init__(message)
        self.message = message
        self.field_index = field_index


def _validity(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[arr.offset : arr.offset + len(arr)].astype(bool)


#: Arrow integer type → (numpy dtype, min, max) of values that came through the int64 parse
_INT_TARGETS = {
    pa.int32(): (np.int32, -(2**31), 2**31 - 1),
    pa.int64(): (np.int64, -(2**63), 2**63 - 1),
    pa.uint64(): (np.uint64, 0, 2**63 - 1),
}


def _convert_ints(region: Region, layout: Layout, int_cols: list[int]) -> dict[int, pa.Array]:
    fields = region.fields
    n, ncols, nrows = len(fields), layout.ncols, region.nrows
    if fields.offset or not n:
        return {}
    valid = _validity(fields)
    is_int = np.zeros(ncols, dtype=bool)
    is_int[int_cols] = True
    mask = np.tile(is_int, nrows) & valid
    offsets_buf, data_buf = fields.buffers()[1], fields.buffers()[2]
    offs = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1)
    if data_buf is not None and len(data_buf):
        # Arrow parses "0x1F" as 31; MySQL never writes hex for an integer, so refuse it
        data = np.frombuffer(data_buf, dtype=np.uint8)
        idx = np.flatnonzero(mask & (offs[1:] - offs[:-1] >= 2))
        second = data[offs[idx] + 1]
        hexes = idx[(second == 120) | (second == 88)]
        if len(hexes):
            k = int(hexes[0])
            col = layout.spec.columns[k % ncols]
            raise _BadValue(f"invalid {col.sql_type} value {fields[k].as_py()[:40]!r} in column `{col.name}`", k)
    masked = pa.Array.from_buffers(
        pa.binary(), n, [pa.py_buffer(np.packbits(mask, bitorder="little")), offsets_buf, data_buf]
    )
    try:
        parsed = pc.cast(masked, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return {}  # per-column path: exact values or the precise error
    values = np.frombuffer(parsed.buffers()[1], dtype=np.int64, count=n, offset=parsed.offset * 8)
    out: dict[int, pa.Array] = {}
    for j in int_cols:
        typ = layout.spec.columns[j].arrow_type
        col_valid = valid[j::ncols]
        col_values = values[j::ncols]
        dtype, lo, hi = _INT_TARGETS[typ]
        present = col_values[col_valid] if not col_valid.all() else col_values
        if len(present) and (present.min() < lo or present.max() > hi):
            continue
        arr = np.ascontiguousarray(col_values).astype(dtype, copy=False)
        null_count = int(nrows - col_valid.sum())
        bitmap = pa.py_buffer(np.packbits(col_valid, bitorder="little")) if null_count else None
        out[j] = pa.Array.from_buffers(typ, nrows, [bitmap, pa.py_buffer(arr)], null_count=null_count)
    return out


def _first_bad(values: Sequence[bytes | None], ok: Callable[[bytes], bool]) -> int:
    for i, v in enumerate(values):
        if v is not None and not ok(v):
            return i
    return -1


def _can_cast(value: bytes, typ: pa.DataType) -> bool:
    try:
        pc.cast(pa.array([value], pa.binary()), typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return bool(_NUMERIC_OK[np.frombuffer(value, dtype=np.uint8)].all())


def convert_column(
    values: pa.BinaryArray,
    column: Column,
    conv: Conversion,
    fail_at: Callable[[str, int], Exception],
) -> pa.Array:
    """Convert one binary column to its Arrow type.  ``fail_at(message, row)`` builds errors."""
    if column.kind == "binary":
        return values
    if column.kind == "text":
        try:
            return pc.cast(values, pa.string())
        except pa.ArrowInvalid:
            pylist = values.to_pylist()
            if conv.invalid_utf8 != "replace":
                i = _first_bad(pylist, _is_utf8)
                raise fail_at(
                    f"invalid UTF-8 in text column `{column.name}`: {pylist[i][:60]!r}", i
                ) from None
            out = []
            for v in pylist:
                if v is None or _is_utf8(v):
                    out.append(None if v is None else v.decode("utf-8"))
                else:
                    conv.replaced_utf8 += 1
                    out.append(v.decode("utf-8", errors="replace"))
            return pa.array(out, type=pa.string())
    # numeric: Arrow's parser, minus the forms MySQL never writes (hex, inf, nan)
    data = values.buffers()[2]
    bad_bytes = False
    if data is not None and len(values):
        offs = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1, offset=values.offset * 4)
        used = np.frombuffer(data, dtype=np.uint8)[offs[0] : offs[-1]]
        bad_bytes = not _NUMERIC_OK[used].all()
    if not bad_bytes:
        try:
            return pc.cast(values, column.arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    pylist = values.to_pylist()
    i = _first_bad(pylist, lambda v: _can_cast(v, column.arrow_type))
    if i < 0:  # pragma: no cover - the batch cast failed but no single value does
        raise fail_at(f"cannot convert column `{column.name}` to {column.arrow_type}", 0)
    raise fail_at(f"invalid {column.sql_type} value {pylist[i][:40]!r} in column `{column.name}`", i)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
