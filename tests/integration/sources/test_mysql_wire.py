"""The wire decoder on a real MariaDB: every supported column type decodes to what
PyMySQL's row parser gives, through SQLAlchemy's streaming results (prefetched row
included), and PyMySQL's internals are where the decoder expects them."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
import sqlalchemy as sa

from wikivis.config import load_settings
from wikivis.sources.mysql_wire import WireReader, wire_columns
from wikivis.sources.replicas import ReplicaSource, _prefetched_rows, binary_as_text, rows_to_batch

pytestmark = pytest.mark.integration

WIKI = "wirewiki"

DDL = """
CREATE TABLE hostile (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    tiny TINYINT, small SMALLINT, medium MEDIUMINT, year_ YEAR,
    big BIGINT UNSIGNED, neg BIGINT,
    ratio DOUBLE, single FLOAT,
    title VARBINARY(255), label VARCHAR(255) CHARACTER SET utf8mb4,
    kind ENUM('BITMAP', 'DRAWING', 'UNKNOWN'), fixed BINARY(14),
    body MEDIUMBLOB
) ENGINE=InnoDB
"""


def hostile_rows(n: int) -> list[dict]:
    rng = random.Random(11)
    rows = []
    for i in range(1, n + 1):
        rows.append({
            "id": i,
            "tiny": rng.choice([None, -128, 127, 0]),
            "small": rng.choice([-32768, 32767, 1]),
            "medium": rng.choice([-8388608, 8388607, None]),
            "year_": rng.choice([1901, 2155, None]),
            "big": rng.choice([0, 2**64 - 1, 2**63, rng.randrange(2**64)]),
            "neg": rng.choice([-(2**63), 2**63 - 1, -1, None]),
            "ratio": rng.choice([0.0, -2.5, 1e-300, 1.7976931348623157e308, None]),
            "single": rng.choice([0.5, -1.25, None]),
            "title": None if i % 9 == 0 else bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 40, 255]))),
            "label": "".join(rng.choice("aé€😀'\\\",()\n") for _ in range(rng.randrange(30))),
            "kind": rng.choice(["BITMAP", "DRAWING", None]),
            "fixed": b"20260101000000",
            "body": None if i % 5 == 0 else bytes([i % 256]) * rng.choice([0, 250, 251, 70_000, 200_000]),
        })
    return rows


@pytest.fixture(scope="module")
def hostile_engine(mariadb):
    database = f"wvtest_wire_{random.randrange(16**8):08x}"
    with mariadb.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    engine = sa.create_engine(mariadb.url.set(database=database))
    rows = hostile_rows(400)
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL)
        conn.execute(sa.text(
            "INSERT INTO hostile VALUES (:id, :tiny, :small, :medium, :year_, :big, :neg, :ratio, :single, "
            ":title, :label, :kind, :fixed, :body)"), rows)
    yield engine
    engine.dispose()
    with mariadb.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {database}")


QUERY = sa.text("SELECT * FROM hostile ORDER BY id")


def test_every_supported_column_type_decodes_like_pymysql(hostile_engine):
    with hostile_engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(QUERY).all()]  # PyMySQL's row parser, buffered
        result = conn.execution_options(stream_results=True).execute(QUERY)
        columns = wire_columns(result.cursor)
        assert columns is not None, "PyMySQL internals moved: the wire decoder fell back to rows"
        assert [c.kind for c in columns][:9] == ["int", "int", "int", "int", "int", "uint", "int", "float", "float"]
        reader = WireReader(result.cursor, columns, slab_bytes=64 * 1024)
        head = _prefetched_rows(result)
        assert head is not None and len(head) == 1  # SQLAlchemy's one prefetched row, handed back
        table = pa.Table.from_batches([reader.rows_batch(head), *reader.batches()])
        result.close()
        got = [tuple(r.values()) for r in table.to_pylist()]
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1  # the connection is usable after
    assert len(got) == len(expected) == 400
    for mine, theirs in zip(got, expected, strict=True):
        assert mine[:7] == theirs[:7] and mine[9:] == theirs[9:]
        for a, b in zip(mine[7:9], theirs[7:9], strict=True):  # FLOAT: same text, same double
            assert a == pytest.approx(b, rel=1e-6) if b is not None else a is None


def test_decimal_and_dates_fall_back_to_pymysql_rows(hostile_engine):
    with hostile_engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(
            sa.text("SELECT id, CAST(id AS DECIMAL(10,2)) AS price, NOW() AS at FROM hostile"))
        assert wire_columns(result.cursor) is None
        result.close()


def test_client_reads_the_same_tables_with_and_without_the_wire_decoder(hostile_engine, tmp_path):
    query = sa.text("SELECT id, neg, label, kind, fixed FROM hostile ORDER BY id")
    tables = {}
    for wire in (True, False):
        settings = load_settings(env={}, home=tmp_path, replica_wire_decode=wire)
        with ReplicaSource(settings, engine_factory=lambda _wiki: hostile_engine) as source:
            client = source.client(WIKI)
            with client._leased() as lease:
                tables[wire] = client._read_all(lease, query, {})
    assert tables[True].num_rows == 400
    assert tables[True].to_pylist() == tables[False].to_pylist()
    assert tables[True].column("label").type == pa.string()


def test_binary_as_text_matches_rows_to_batch():
    batch = pa.record_batch({"t": pa.array([b"a", None, "é".encode()], pa.binary()), "n": pa.array([1, 2, 3])})
    assert binary_as_text(batch).to_pylist() == rows_to_batch(["t", "n"], [(b"a", 1), (None, 2), ("é".encode(), 3)]
                                                              ).to_pylist()
