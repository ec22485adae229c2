"""Columnar decoding of MariaDB/MySQL result rows for PyMySQL's unbuffered results.

Why this exists: PyMySQL (the driver the replicas are read with, as the brief asks) parses
every column of every row in Python — packet object, length prefix, slice, ``decode``,
``int()`` — about 10 µs for a 7-column ``article_images`` row, so one core tops out near
100k rows/s whatever the server does (bench/replica_pull.py).  No maintained library turns
PyMySQL's wire bytes into Arrow (connectorx and the ADBC drivers bring their own native
MySQL clients instead of PyMySQL + SQLAlchemy).  This reader takes over a result *after*
PyMySQL has sent the query and read the column definitions of an unbuffered (``SSCursor``)
result, so connecting, auth, TLS, parameter binding, session settings and pooling stay
PyMySQL's and SQLAlchemy's.  It reads the row packets from the connection's socket file in
slabs of ~1 MiB, finds the packet boundaries in one tight pass over the 4-byte headers,
then decodes each column for all rows of the slab at once: numpy follows the length
prefixes, Arrow builds the arrays (UTF-8 validation, decimal→integer parsing in C).
Memory stays bounded by the slab, and the rows come out as ``pyarrow.RecordBatch`` — what
the replica client wanted in the first place.

Protocol facts it relies on (client/server protocol, text result set):

* A packet is a 3-byte little-endian payload length, a 1-byte sequence id (one more than
  the previous packet's, mod 256), then the payload.  A payload of exactly 0xFFFFFF bytes
  continues in the next packet (a row over 16 MiB) — refused here with an error, never
  produced by the replica queries (titles are ≤ 255 bytes).
* A row is one length-encoded string per column: a first byte < 0xFB is the length;
  0xFB is NULL; 0xFC/0xFD/0xFE are followed by a 2/3/8-byte length.  Numbers arrive as
  ASCII decimal text.
* The rows end with an EOF packet (0xFE, payload < 9 bytes: PyMySQL never negotiates
  ``CLIENT_DEPRECATE_EOF``) or an error packet (0xFF: KILL QUERY 1317, max_statement_time
  1969, …), which is raised as PyMySQL would raise it, so the replica client's retry policy
  sees the same exceptions on both paths.  A closed socket is PyMySQL's 2013 "Lost
  connection".

:func:`wire_columns` says whether a result can be read this way: integer, floating-point
and string/blob columns with PyMySQL's default converters (``DECIMAL``, dates, ``BIT``,
JSON, … are left to PyMySQL's row path), on a PyMySQL connection whose internals look as
expected (PyMySQL is pinned in constraints.txt; ``tests/unit/replicas/test_mysql_wire.py``
fails loudly if an upgrade moves them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: a payload of this length continues in the next packet
MAX_PAYLOAD = 0xFFFFFF
#: bytes of complete rows decoded together (bounded memory, few numpy calls per row)
SLAB_BYTES = 1 << 20
#: MySQL's "more results exist" server status bit (multi-statement results: not supported)
SERVER_MORE_RESULTS_EXISTS = 8
#: PyMySQL's "Lost connection to MySQL server during query"
CR_SERVER_LOST = 2013

Kind = Literal["int", "uint", "float", "text", "binary"]

# MySQL column type codes (pymysql.constants.FIELD_TYPE), by the Arrow kind they decode to
_INTEGER_TYPES = {1, 2, 3, 8, 9, 13}  # TINY, SHORT, LONG, LONGLONG, INT24, YEAR
_FLOAT_TYPES = {4, 5}  # FLOAT, DOUBLE
_STRING_TYPES = {15, 247, 248, 249, 250, 251, 252, 253, 254}  # VARCHAR, ENUM, SET, *BLOB, VAR_STRING, STRING
_LONGLONG = 8
_UNSIGNED_FLAG = 32
_BINARY_CHARSET = 63


@dataclass(frozen=True)
class WireColumn:
    name: str
    kind: Kind


def wire_columns(dbapi_cursor: Any) -> list[WireColumn] | None:
    """The columns of ``dbapi_cursor``'s pending unbuffered result, or None when this reader
    cannot decode it (not PyMySQL, not unbuffered, or a column type it leaves to PyMySQL)."""
    result: Any = getattr(dbapi_cursor, "_result", None)
    conn: Any = getattr(dbapi_cursor, "connection", None)
    if result is None or conn is None or not getattr(result, "unbuffered_active", False):
        return None
    if result is not getattr(conn, "_result", None) or not all(
        hasattr(conn, name) for name in ("_rfile", "_sock", "_next_seq_id", "_read_timeout", "_force_close")
    ):
        return None
    if not getattr(conn, "use_unicode", False) or not hasattr(conn._rfile, "read1"):
        return None
    decoders = getattr(conn, "decoders", {})
    fields: Sequence[Any] = getattr(result, "fields", None) or ()
    if not fields:
        return None
    columns = []
    for field in fields:
        code = field.type_code
        decoder = decoders.get(code)
        if code in _INTEGER_TYPES and decoder is int:
            kind: Kind = "uint" if code == _LONGLONG and field.flags & _UNSIGNED_FLAG else "int"
        elif code in _FLOAT_TYPES and decoder is float:
            kind = "float"
        elif code in _STRING_TYPES and (decoder is None or getattr(decoder, "__name__", "") == "through"):
            kind = "binary" if field.charsetnr == _BINARY_CHARSET else "text"
        else:
            return None
        columns.append(WireColumn(field.name, kind))
    return columns


def _lost(conn: Any, detail: str) -> Exception:
    from pymysql import err

    conn._force_close()
    result: Exception = err.OperationalError(CR_SERVER_LOST, f"Lost connection to MySQL server during query ({detail})")
    return result


class WireReader:
    """Reads the rest of one unbuffered PyMySQL result as RecordBatches (see module doc).

    ``binary`` columns (VARBINARY, BLOB — MediaWiki's titles) stay ``pa.binary()``, as
    PyMySQL returns ``bytes`` for them; ``text`` columns are validated UTF-8 strings.
    """

    def __init__(self, dbapi_cursor: Any, columns: Sequence[WireColumn], *, slab_bytes: int = SLAB_BYTES) -> None:
        self.cursor = dbapi_cursor
        self.conn = dbapi_cursor.connection
        self.result = dbapi_cursor._result
        self.columns = list(columns)
        self.slab_bytes = max(1, slab_bytes)
        self.schema = pa.schema([(c.name, _ARROW_TYPE[c.kind]) for c in self.columns])

    def rows_batch(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        """Rows PyMySQL already parsed (e.g. prefetched by SQLAlchemy), in this reader's schema."""
        values = list(zip(*rows, strict=True)) if rows else [() for _ in self.columns]
        return pa.RecordBatch.from_arrays(
            [pa.array(column, type=field.type) for column, field in zip(values, self.schema, strict=True)],
            schema=self.schema,
        )

    def _read(self) -> bytes:
        try:
            data: bytes = self.conn._rfile.read1(self.slab_bytes)
        except InterruptedError:
            return b""
        except OSError as exc:
            raise _lost(self.conn, str(exc)) from exc
        if not data:
            raise _lost(self.conn, "connection closed by the server")
        return data

    def _end(self, seq: int) -> None:
        self.conn._next_seq_id = seq
        self.result.unbuffered_active = False
        self.result.connection = None
        self.result.rows = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        """RecordBatches of ≤ ~``slab_bytes`` of rows each, until the result's end."""
        from pymysql import err

        conn = self.conn
        if conn._current_timeout != conn._read_timeout:
            conn._sock.settimeout(conn._read_timeout)
            conn._current_timeout = conn._read_timeout
        seq = conn._next_seq_id
        buf = bytearray()
        walked = 0  # bytes of buf already split into packets
        starts: list[int] = []
        ends: list[int] = []
        finished = False
        eof_at = -1
        while not finished:
            buf += self._read()
            size = len(buf)
            p = walked
            while p + 4 <= size:
                length = buf[p] | buf[p + 1] << 8 | buf[p + 2] << 16
                end = p + 4 + length
                if end > size:
                    break
                if buf[p + 3] != seq:
                    self._end(seq)
                    if buf[p + 3] == 0:  # MariaDB sends its shutdown error with sequence 0
                        raise _lost(conn, "server shutdown")
                    conn._force_close()
                    raise err.InternalError(f"packet sequence number wrong: got {buf[p + 3]}, expected {seq}")
                seq = (seq + 1) & 0xFF
                first = buf[p + 4] if length else 0
                if first >= 0xFE or length == MAX_PAYLOAD or not length:
                    if first == 0xFF:
                        self._end(seq)
                        err.raise_mysql_exception(bytes(buf[p + 4 : end]))
                    if first == 0xFE and length < 9:
                        self._finish(bytes(buf[p + 4 : end]), seq)
                        finished = True
                        eof_at, p = p, end
                        break
                    if length == MAX_PAYLOAD or not length:
                        self._end(seq)
                        conn._force_close()
                        raise err.InternalError(
                            f"row packet of {length} bytes: rows over 16 MiB (or empty) are not supported"
                        )
                starts.append(p + 4)
                ends.append(end)
                p = end
            walked = p
            if starts and (finished or p >= self.slab_bytes):
                rows_end = eof_at if finished else p
                slab = bytes(buf[:rows_end])
                del buf[:p]
                walked = 0
                batch = decode_rows(slab, starts, ends, self.columns, self.schema)
                starts, ends = [], []
                yield batch
        if len(buf) > walked:
            conn._force_close()
            raise err.InternalError(f"{len(buf) - walked} unexpected bytes after the end of the result")

    def _finish(self, eof: bytes, seq: int) -> None:
        from pymysql import err

        self._end(seq)
        if len(eof) >= 5:
            self.result.warning_count = int.from_bytes(eof[1:3], "little")
            status = int.from_bytes(eof[3:5], "little")
            self.result.has_next = bool(status & SERVER_MORE_RESULTS_EXISTS)
            if self.result.has_next:
                self.conn._force_close()
                raise err.NotSupportedError("multi-statement results are not read by the wire reader")


_ARROW_TYPE: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "uint": pa.uint64(),
    "float": pa.float64(),
    "text": pa.string(),
    "binary": pa.binary(),
}


def _lengths(arr: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(value start, value length, validity or None) of the length-encoded strings at ``pos``."""
    first = arr[pos]
    lengths = first.astype(np.int64)
    begin = pos + 1
    special = first >= 0xFB
    if not special.any():
        return begin, lengths, None
    lengths[special] = 0
    for marker, width in ((0xFC, 2), (0xFD, 3), (0xFE, 8)):
        rows = np.flatnonzero(first == marker)
        if rows.size:
            at = pos[rows] + 1
            value = np.zeros(rows.size, np.uint64)
            for byte in range(width):
                value |= arr[at + byte].astype(np.uint64) << np.uint64(8 * byte)
            lengths[rows] = value.astype(np.int64)
            begin[rows] = at + width
    nulls = first == 0xFB
    return begin, lengths, (~nulls if nulls.any() else None)


def _gather(arr: np.ndarray, begin: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values' bytes laid end to end, and their Arrow offsets."""
    offsets = np.zeros(lengths.size + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    if not total:
        return np.zeros(0, np.uint8), offsets
    index = np.repeat(begin - offsets[:-1], lengths)
    index += np.arange(total, dtype=np.int64)
    return arr[index], offsets


def decode_rows(
    data: bytes, starts: Sequence[int], ends: Sequence[int], columns: Sequence[WireColumn],
    schema: pa.Schema | None = None,
) -> pa.RecordBatch:
    """Decode the row payloads ``data[starts[i]:ends[i]]`` into one RecordBatch.

    Raises ``pymysql.err.InternalError`` when a row's columns do not fill its packet
    exactly, and ``pyarrow.ArrowInvalid`` for a number that does not parse or text that is
    not UTF-8 (the replica client names the query and replica for both).
    """
    from pymysql import err

    arr = np.frombuffer(data, np.uint8)
    pos = np.asarray(starts, np.int64)
    limit = np.asarray(ends, np.int64)
    count = pos.size
    arrays = []
    for column in columns:
        if np.any(pos >= limit):
            raise err.InternalError(f"row packet ends before column {column.name!r}")
        begin, lengths, valid = _lengths(arr, pos)
        pos = begin + lengths
        if np.any(pos > limit):
            raise err.InternalError(f"column {column.name!r} runs past the end of its row packet")
        values, offsets = _gather(arr, begin, lengths)
        large = offsets[-1] >= 1 << 31
        validity = None
        null_count = 0
        if valid is not None:
            validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
            null_count = int(count - np.count_nonzero(valid))
        raw_type = (pa.large_binary() if large else pa.binary()) if column.kind in ("text", "binary") else (
            pa.large_string() if large else pa.string())
        array = pa.Array.from_buffers(
            raw_type, count,
            [validity, pa.py_buffer(offsets if large else offsets.astype(np.int32)), pa.py_buffer(values)],
            null_count=null_count,
        )
        if column.kind == "text":
            array = array.cast(pa.large_string() if large else pa.string())
        elif column.kind != "binary":
            array = pc.cast(array, _ARROW_TYPE[column.kind])
        arrays.append(array)
    if not np.array_equal(pos, limit):
        raise err.InternalError("row packets hold more columns than the result declares")
    if schema is None or any(a.type != f.type for a, f in zip(arrays, schema, strict=True)):
        return pa.RecordBatch.from_arrays(arrays, names=[c.name for c in columns])
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
