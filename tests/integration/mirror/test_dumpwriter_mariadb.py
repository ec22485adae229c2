"""The dump writer against real ``mariadb-dump`` output for the same tables and rows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from wikivis.mirror.dumpwriter import LEGACY_TABLES, TABLES, to_legacy, write_dump
from wikivis.sample import generate
from wikivis.testing import mariadb_dump, scratch_mysql_database

pytestmark = pytest.mark.integration
DATABASE = "wikivis_mirror_dumpwriter"
VOLATILE = (b"-- MariaDB dump", b"-- Host:", b"-- Server version", b"-- Dump completed", b"-- ORDER BY:")


@pytest.fixture(scope="module")
def server():
    with scratch_mysql_database(DATABASE) as (url, engine):
        yield url, engine


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory):
    sample = generate(seed=3, n_articles=60, n_files=80, n_days=3, cache_dir=tmp_path_factory.mktemp("cache"))
    return sample.state(1)


def _mariadb_dump(url: sa.engine.URL, table: str) -> bytes:
    # production's flags, plus --order-by-primary: InnoDB may scan a covering secondary index
    # (linktarget, imagelinks) while Wikimedia's files come out in primary-key order
    return mariadb_dump(url, "--opt", "--quick", "--skip-add-locks", "--skip-lock-tables", "--order-by-primary",
                        DATABASE, table)


def _normalise(dump: bytes) -> list[bytes]:
    """Drop the host/version/time comment lines and the ``-- ORDER BY:`` note."""
    return [line for line in dump.split(b"\n") if not line.startswith(VOLATILE)]


def _load(engine: sa.Engine, table, rows) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("SET time_zone = '+00:00'"))
        conn.execute(sa.text(f"DROP TABLE IF EXISTS `{table.name}`"))
        conn.execute(sa.text(table.create_table()[:-1]))
        if rows:
            cols = table.column_names
            stmt = f"INSERT INTO `{table.name}` ({', '.join(cols)}) VALUES ({', '.join('%s' for _ in cols)})"
            raw = conn.connection.cursor()
            raw.executemany(stmt, [tuple(r[c] for c in cols) for r in rows])


CASES = [(name, False) for name in TABLES] + [(name, True) for name in LEGACY_TABLES]


@pytest.mark.parametrize(("name", "legacy"), CASES, ids=[f"{n}{'-legacy' if leg else ''}" for n, leg in CASES])
def test_writer_matches_mariadb_dump(server, state, name: str, legacy: bool) -> None:
    url, engine = server
    table = (LEGACY_TABLES if legacy else TABLES)[name]
    rows = state.tables[name]
    if legacy:
        rows = to_legacy(name, rows, state.tables["linktarget"])
    _load(engine, table, rows)
    expected = _mariadb_dump(url, name)
    ours = write_dump(table, rows, style="mariadb", database=DATABASE)
    assert _normalise(ours) == _normalise(expected)


def test_escaping_round_trips_through_mariadb(server) -> None:
    url, engine = server
    table = TABLES["linktarget"]
    tricky = "a'b\"c\\d\x00e\nf\rg\x1ah Zürich"
    rows = [{"lt_id": 1, "lt_namespace": 6, "lt_title": tricky}, {"lt_id": 2, "lt_namespace": 14, "lt_title": "plain"}]
    _load(engine, table, rows)
    assert _normalise(write_dump(table, rows, database=DATABASE)) == _normalise(_mariadb_dump(url, "linktarget"))
    # and the classic one-line style loads back into MariaDB with the same content
    classic = write_dump(table, rows, style="mysqldump", database=DATABASE)
    assert b"INSERT INTO `linktarget` VALUES (1,6,'a\\'b\\\"c\\\\d\\0e\\nf\\rg\\Zh Z\xc3\xbcrich'),(2,14,'plain');" in classic
    mariadb_dump(url, DATABASE, input=classic, program="mariadb")
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT lt_title FROM linktarget WHERE lt_id = 1")).scalar_one()
    assert got == tricky.encode()
