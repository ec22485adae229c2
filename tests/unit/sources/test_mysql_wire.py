"""The columnar wire decoder against hand-built MySQL packet streams, with PyMySQL's own
row parser as the oracle: same values for every byte, length prefix, NULL and number,
however the bytes are split across socket reads."""

from __future__ import annotations

import random
import struct
from typing import Any

import pyarrow as pa
import pytest
from pymysql import err
from pymysql.connections import MySQLResult
from pymysql.constants import FIELD_TYPE
from pymysql.converters import decoders as pymysql_decoders
from pymysql.protocol import MysqlPacket

from wikivis.sources.mysql_wire import WireColumn, WireReader, decode_rows, wire_columns

BINARY, UTF8MB4 = 63, 45
UNSIGNED = 32


class Field:
    def __init__(self, name: str, type_code: int, charsetnr: int = BINARY, flags: int = 0) -> None:
        self.name, self.type_code, self.charsetnr, self.flags = name, type_code, charsetnr, flags


class Socket:
    def settimeout(self, _value: Any) -> None:
        return None


class ChunkedFile:
    """A socket file whose ``read1`` hands out the stream in the given chunk sizes."""

    def __init__(self, data: bytes, sizes: tuple[int, int] | None = None, seed: int = 3) -> None:
        self.data, self.pos, self.sizes, self.rng = data, 0, sizes, random.Random(seed)

    def read1(self, n: int) -> bytes:
        size = min(n, self.rng.randint(*self.sizes)) if self.sizes else n
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk


class Conn:
    use_unicode = True
    decoders = pymysql_decoders

    def __init__(self, data: bytes, sizes: tuple[int, int] | None = None, seq: int = 5) -> None:
        self._rfile = ChunkedFile(data, sizes)
        self._sock = Socket()
        self._next_seq_id = seq
        self._read_timeout = None
        self._current_timeout = None
        self.closed = False
        self._result: Any = None

    def _force_close(self) -> None:
        self.closed = True


class Result:
    def __init__(self, conn: Conn, fields: list[Field]) -> None:
        self.connection, self.fields, self.unbuffered_active = conn, fields, True
        self.warning_count, self.has_next, self.rows = 0, False, None
        conn._result = self


class Cursor:
    def __init__(self, data: bytes, fields: list[Field], sizes: tuple[int, int] | None = None,
                 seq: int = 5) -> None:
        self.connection = Conn(data, sizes, seq)
        self._result = Result(self.connection, fields)


def lenenc(value: bytes | None) -> bytes:
    if value is None:
        return b"\xfb"
    n = len(value)
    if n < 251:
        prefix = bytes([n])
    elif n < 1 << 16:
        prefix = b"\xfc" + n.to_bytes(2, "little")
    elif n < 1 << 24:
        prefix = b"\xfd" + n.to_bytes(3, "little")
    else:
        prefix = b"\xfe" + n.to_bytes(8, "little")
    return prefix + value


def packets(payloads: list[bytes], seq: int = 5) -> bytes:
    out = bytearray()
    for payload in payloads:
        out += len(payload).to_bytes(3, "little") + bytes([seq]) + payload
        seq = (seq + 1) & 0xFF
    return bytes(out)


EOF = b"\xfe\x00\x00\x02\x00"


def error_packet(code: int, message: str) -> bytes:
    return b"\xff" + struct.pack("<H", code) + b"#70100" + message.encode()


def encode(row: tuple[Any, ...]) -> bytes:
    out = bytearray()
    for value in row:
        if value is None or isinstance(value, bytes):
            out += lenenc(value)
        elif isinstance(value, str):
            out += lenenc(value.encode())
        else:
            out += lenenc(repr(value).encode() if isinstance(value, float) else str(value).encode())
    return bytes(out)


FIELDS = [
    Field("id", FIELD_TYPE.LONG),
    Field("big", FIELD_TYPE.LONGLONG, flags=UNSIGNED),
    Field("neg", FIELD_TYPE.LONGLONG),
    Field("ratio", FIELD_TYPE.DOUBLE),
    Field("title", FIELD_TYPE.VAR_STRING),  # VARBINARY: bytes
    Field("label", FIELD_TYPE.VAR_STRING, charsetnr=UTF8MB4),  # VARCHAR utf8mb4: str
    Field("blob", FIELD_TYPE.BLOB),
]


def hostile_rows(n: int, seed: int = 7, *, huge: bool = True) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    sizes = [0, 1, 250, 251, 252, 300, 65535, 65536, 70_000] if huge else [0, 1, 250, 251, 252, 300]
    rows = []
    for i in range(n):
        rows.append((
            i + 1,
            rng.choice([0, 1, 2**63, 2**64 - 1, rng.randrange(2**64)]),
            rng.choice([-(2**63), -1, 0, 2**63 - 1, rng.randrange(-(10**12), 10**12)]),
            rng.choice([0.0, -1.5, 1e-300, 3.141592653589793, 1.7976931348623157e308]),
            None if i % 11 == 3 else bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 255]))),
            None if i % 13 == 5 else "".join(rng.choice("aé€😀'\\\"\x00,()") for _ in range(rng.randrange(12))),
            None if i % 7 == 2 else bytes([i % 256]) * rng.choice(sizes),
        ))
    return rows


def pymysql_rows(payloads: list[bytes], fields: list[Field]) -> list[tuple[Any, ...]]:
    """What PyMySQL's own per-row parser makes of the same payloads."""
    result = MySQLResult.__new__(MySQLResult)
    result.unbuffered_active = False
    result.converters = []
    for f in fields:
        text = f.charsetnr != BINARY or f.type_code not in (FIELD_TYPE.VAR_STRING, FIELD_TYPE.BLOB)
        decoder = pymysql_decoders.get(f.type_code)
        result.converters.append(("utf8" if text else None, None if decoder is None or decoder.__name__ == "through"
                                  else decoder))
    return [result._read_row_from_packet(MysqlPacket(p, "utf8")) for p in payloads]


def read_all(cursor: Cursor, **options: Any) -> pa.Table:
    columns = wire_columns(cursor)
    assert columns is not None
    return pa.Table.from_batches(list(WireReader(cursor, columns, **options).batches()),
                                 schema=WireReader(cursor, columns).schema)


@pytest.mark.parametrize("split", ["whole", "tiny", "random"])
def test_hostile_rows_decode_exactly_like_pymysql_however_the_reads_split(split):
    rows = hostile_rows(300, huge=split != "tiny")  # 1-7-byte reads of 10 MB would take a while
    payloads = [encode(r) for r in rows]
    stream = packets([*payloads, EOF])
    sizes = {"whole": None, "tiny": (1, 7), "random": (1, 40_000)}[split]
    cursor = Cursor(stream, FIELDS, sizes)
    table = read_all(cursor, slab_bytes=50_000)
    assert [tuple(r.values()) for r in table.to_pylist()] == pymysql_rows(payloads, FIELDS)
    assert [f.type for f in table.schema] == [pa.int64(), pa.uint64(), pa.int64(), pa.float64(),
                                               pa.binary(), pa.string(), pa.binary()]
    # the result is left finished, as PyMySQL leaves it after the EOF packet
    assert cursor._result.unbuffered_active is False
    assert cursor.connection._next_seq_id == (5 + len(payloads) + 1) & 0xFF
    assert not cursor.connection.closed


def test_slabs_bound_the_batches_and_sequence_ids_wrap():
    rows = [(i, b"x" * 40) for i in range(2000)]  # 2000 packets: the sequence id wraps 7 times
    fields = [Field("id", FIELD_TYPE.LONG), Field("t", FIELD_TYPE.VAR_STRING)]
    cursor = Cursor(packets([*(encode(r) for r in rows), EOF], seq=1), fields, seq=1)
    columns = wire_columns(cursor)
    batches = list(WireReader(cursor, columns, slab_bytes=4096).batches())
    row_bytes = 4 + len(encode(rows[0]))
    assert len(batches) > 10 and max(b.num_rows for b in batches) <= 2 * 4096 // row_bytes  # ≤ 2 slabs
    assert pa.Table.from_batches(batches).column("id").to_pylist() == list(range(2000))


def test_empty_result():
    cursor = Cursor(packets([EOF]), FIELDS)
    assert list(WireReader(cursor, wire_columns(cursor)).batches()) == []
    assert cursor._result.unbuffered_active is False


def test_error_packet_mid_result_raises_pymysqls_exception_with_the_server_code():
    payloads = [encode(r) for r in hostile_rows(5)]
    cursor = Cursor(packets([*payloads, error_packet(1317, "Query execution was interrupted")]), FIELDS)
    with pytest.raises(err.OperationalError) as raised:
        list(WireReader(cursor, wire_columns(cursor)).batches())
    assert raised.value.args[0] == 1317
    assert cursor._result.unbuffered_active is False


def test_connection_closed_mid_result_is_a_lost_connection():
    payloads = [encode(r) for r in hostile_rows(5)]
    stream = packets(payloads)  # no EOF: the server went away
    cursor = Cursor(stream[:-3], FIELDS)
    with pytest.raises(err.OperationalError) as raised:
        list(WireReader(cursor, wire_columns(cursor)).batches())
    assert raised.value.args[0] == 2013
    assert cursor.connection.closed


def test_wrong_sequence_id_and_malformed_rows_are_protocol_errors():
    payload = encode((1, 2, 3, 1.0, b"a", "b", b"c"))
    cursor = Cursor(packets([payload, EOF], seq=9), FIELDS, seq=5)
    with pytest.raises(err.InternalError, match="sequence number"):
        list(WireReader(cursor, wire_columns(cursor)).batches())
    assert cursor.connection.closed

    short = encode((1, 2, 3, 1.0, b"a", "b"))  # one column missing
    with pytest.raises(err.InternalError, match="ends before column 'blob'"):
        decode_rows(short, [0], [len(short)], wire_columns(Cursor(b"", FIELDS)))
    long = payload + lenenc(b"extra")
    with pytest.raises(err.InternalError, match="more columns"):
        decode_rows(long, [0], [len(long)], wire_columns(Cursor(b"", FIELDS)))


def test_invalid_utf8_and_bad_numbers_raise_arrow_errors():
    text_column = [WireColumn("label", "text")]
    bad = lenenc(b"\xff\xfe")
    with pytest.raises(pa.ArrowInvalid):
        decode_rows(bad, [0], [len(bad)], text_column)
    number = lenenc(b"12x")
    with pytest.raises(pa.ArrowInvalid):
        decode_rows(number, [0], [len(number)], [WireColumn("id", "int")])


def test_columns_left_to_pymysql():
    assert wire_columns(Cursor(b"", [Field("price", FIELD_TYPE.NEWDECIMAL)])) is None
    assert wire_columns(Cursor(b"", [Field("at", FIELD_TYPE.DATETIME)])) is None
    assert wire_columns(Cursor(b"", [Field("bits", FIELD_TYPE.BIT)])) is None
    custom = Cursor(b"", [Field("id", FIELD_TYPE.LONG)])
    custom.connection.decoders = {**pymysql_decoders, FIELD_TYPE.LONG: float}
    assert wire_columns(custom) is None
    finished = Cursor(b"", [Field("id", FIELD_TYPE.LONG)])
    finished._result.unbuffered_active = False
    assert wire_columns(finished) is None

    class Sqlite3Cursor:
        connection = None

    assert wire_columns(Sqlite3Cursor()) is None


def test_rows_batch_puts_prefetched_rows_in_the_wire_schema():
    cursor = Cursor(b"", FIELDS)
    reader = WireReader(cursor, wire_columns(cursor))
    rows = hostile_rows(3)
    batch = reader.rows_batch(rows)
    assert batch.schema == reader.schema
    assert [tuple(r.values()) for r in batch.to_pylist()] == rows
