"""The parser against real ``mariadb-dump`` output: hostile values loaded into the loopback
MariaDB, dumped with several option sets, parsed, and compared with what the server returns
for ``SELECT`` — the server is the ground truth for every type and escape."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from wikivis.dumps.parser import DumpParser
from wikivis.errors import InputError
from wikivis.testing import mariadb_dump, scratch_mysql_database

pytestmark = pytest.mark.integration
DATABASE = "wikivis_dumps_parser"

DDL = """CREATE TABLE hostile (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  i INT, ti TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, iu INT UNSIGNED, bs BIGINT,
  title VARBINARY(255), body BLOB, bin BINARY(4), name VARCHAR(100) CHARACTER SET utf8mb4,
  note TEXT CHARACTER SET utf8mb4,
  d DOUBLE, f FLOAT, dec1 DECIMAL(12,3),
  kind ENUM('page','subcat','file'), flags SET('a','b','c'),
  ts TIMESTAMP NULL DEFAULT NULL, dtm DATETIME, day DATE, yr YEAR, tm TIME
) ENGINE=InnoDB DEFAULT CHARSET=binary"""

ALL_BYTES = bytes(range(256))
ROWS = [
    dict(id=0, i=0, ti=0, si=0, mi=0, iu=0, bs=0, title=b"", body=b"", bin=b"\0\0\0\0", name="", note="",
         d=0.0, f=0.0, dec1=decimal.Decimal("0.000"), kind="page", flags="", ts=None, dtm=None, day=None,
         yr=None, tm=None),
    dict(id=1, i=-(2**31), ti=255, si=-(2**15), mi=2**24 - 1, iu=2**32 - 1, bs=-(2**63),
         title=b"O'Brien \\ \"quoted\" ),( );\n", body=ALL_BYTES, bin=b"\x1a\n\r\0", name="Caf\u00e9 \u65e5\u672c \U0001f600",
         note="line1\nline2\ttab \\ back ' quote", d=1.7976931348623157e308, f=0.1, dec1=decimal.Decimal("-123456789.125"),
         kind="file", flags="a,c", ts=dt.datetime(2026, 1, 2, 3, 4, 5), dtm=dt.datetime(1999, 12, 31, 23, 59, 59),
         day=dt.date(2024, 2, 29), yr=2024, tm=dt.timedelta(hours=-838, minutes=-59, seconds=-59)),
    dict(id=2**63, i=2**31 - 1, ti=None, si=2**15 - 1, mi=None, iu=None, bs=2**63 - 1,
         title=b"\xff\xfe invalid utf-8 \xc3", body=b"\\0 not an escape: \\\\0", bin=None, name="NULL",
         note="'", d=-2.5e-300, f=-3.25, dec1=None, kind=None, flags=None, ts=None, dtm=None, day=None,
         yr=1901, tm=dt.timedelta(0)),
    dict(id=2**64 - 1, i=None, ti=1, si=None, mi=1, iu=1, bs=None, title=None, body=None, bin=b"abcd",
         name=None, note=None, d=None, f=None, dec1=decimal.Decimal("0.001"), kind="subcat", flags="b",
         ts=dt.datetime(2038, 1, 19, 3, 14, 7), dtm=None, day=dt.date(1000, 1, 1), yr=2155, tm=None),
] + [
    dict(id=100 + k, i=k, ti=k % 256, si=-k, mi=k, iu=k, bs=k * 1_000_003, title=b"Title_%d_'%s'" % (k, b"x" * (k % 40)),
         body=ALL_BYTES[k % 256 :] + b"),(" * (k % 3), bin=b"%04d" % k, name=f"n{k} \u00e9", note=f"row {k};",
         d=k / 7, f=k / 4, dec1=decimal.Decimal(k) / 8, kind="page", flags="a", ts=None, dtm=None, day=None,
         yr=None, tm=None)
    for k in range(400)
]
TEXT = {"hostile": ["title"]}  # a VARBINARY declared as text: invalid UTF-8 must be caught


@pytest.fixture(scope="module")
def server():
    with scratch_mysql_database(DATABASE) as (url, db):
        with db.begin() as conn:
            conn.execute(sa.text("SET time_zone = '+00:00'"))
            conn.execute(sa.text(DDL))
            columns = list(ROWS[0])
            conn.execute(
                sa.text(f"INSERT INTO hostile ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"), ROWS
            )
        yield url, db


def _dump(url: sa.engine.URL, out: Path, *options: str) -> Path:
    out.write_bytes(mariadb_dump(url, *options, DATABASE, "hostile"))
    return out


def _server_rows(db: sa.Engine) -> list[dict]:
    """What the server holds, in the parser's representation."""
    with db.begin() as conn:
        conn.execute(sa.text("SET time_zone = '+00:00'"))
        rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM hostile ORDER BY id"))]
    for row in rows:
        for key, value in row.items():
            if isinstance(value, dt.datetime):
                row[key] = value.strftime("%Y-%m-%d %H:%M:%S")
            elif isinstance(value, dt.date):
                row[key] = value.isoformat()
            elif isinstance(value, dt.timedelta):
                total = int(value.total_seconds())
                sign, total = ("-" if total < 0 else ""), abs(total)
                row[key] = f"{sign}{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"
            elif isinstance(value, set):
                row[key] = ",".join(sorted(v.decode() if isinstance(v, bytes) else v for v in value))
            elif isinstance(value, (bytes, bytearray)):
                # ENUM/SET of a CHARSET=binary table come back as bytes; the parser maps them to text
                row[key] = bytes(value).decode() if key in ("kind", "flags") else bytes(value)
    return rows


def _parse(path: Path, **options) -> tuple[list[dict], DumpParser]:
    parser = DumpParser(path, text_columns={}, **options)
    table = pa.Table.from_batches(list(parser), schema=parser.schema)
    return sorted(table.to_pylist(), key=lambda r: r["id"]), parser


OPTION_SETS = {
    "default": (),
    "wikimedia": ("--opt", "--quick", "--skip-add-locks", "--skip-lock-tables"),
    "small-net-buffer": ("--net-buffer-length=4096",),
    "one-row-per-insert": ("--skip-extended-insert",),
    "complete-insert-ignore": ("--complete-insert", "--insert-ignore"),
    "replace": ("--replace", "--compact"),
}


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "exact"])
@pytest.mark.parametrize("options", sorted(OPTION_SETS))
def test_mariadb_dump_round_trip(server, tmp_path, options, fast):
    url, db = server
    path = _dump(url, tmp_path / "hostile.sql", *OPTION_SETS[options])
    # --compact drops every comment, the '-- Dump completed' footer too: accepted only explicitly
    partial = "--compact" in OPTION_SETS[options]
    parsed, parser = _parse(path, fast=fast, chunk_size=16 << 10, allow_partial=partial)
    expected = _server_rows(db)
    assert len(parsed) == len(expected) == len(ROWS)
    for got, want in zip(parsed, expected, strict=True):
        for key in want:
            if key == "f":  # FLOAT is single precision: the dump prints its shortest float32 form
                assert (got[key] is None) == (want[key] is None)
                if want[key] is not None:
                    assert got[key] == pytest.approx(want[key], rel=1e-6)
            else:
                assert got[key] == want[key], (options, got["id"], key)
    if options == "small-net-buffer":
        assert parser.stats.statements > 5
    if fast:
        assert parser.stats.regions_slow == 0


def test_mariadb_dump_gzip_and_schema(server, tmp_path):
    import gzip

    url, _ = server
    plain = _dump(url, tmp_path / "hostile.sql")
    gz = tmp_path / "hostile.sql.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, parser = _parse(plain)
    b, _ = _parse(gz)
    assert a == b
    types = {f.name: f.type for f in parser.schema}
    assert types["id"] == pa.uint64()
    assert types["iu"] == pa.int64()
    assert types["i"] == pa.int32()
    assert types["title"] == pa.binary()
    assert types["name"] == pa.string()
    assert types["dec1"] == pa.decimal128(12, 3)
    assert parser.stats.completed


def test_invalid_utf8_in_a_declared_text_column(server, tmp_path):
    url, _ = server
    path = _dump(url, tmp_path / "hostile.sql")
    with pytest.raises(InputError, match="invalid UTF-8 in text column `title`") as err:
        list(DumpParser(path, text_columns=TEXT))
    data = path.read_bytes()
    assert data[err.value.offset :].startswith(b"'\xff\xfe invalid")


def test_hex_blob_is_refused_clearly(server, tmp_path):
    url, _ = server
    path = _dump(url, tmp_path / "hostile.sql", "--hex-blob")
    with pytest.raises(InputError, match="unquoted value") as err:
        list(DumpParser(path, text_columns={}))
    assert err.value.source == str(path)
