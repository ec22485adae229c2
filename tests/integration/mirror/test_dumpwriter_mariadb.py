"""The dump writer against real ``mariadb-dump`` output for the same tables and rows."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import sqlalchemy as sa

from wikivis.mirror.dumpwriter import LEGACY_TABLES, TABLES, to_legacy, write_dump
from wikivis.sample import generate
from wikivis.testing import engine_or_skip, mysql_url, require_service

pytestmark = pytest.mark.integration
DATABASE = "wikivis_mirror_dumpwriter"
VOLATILE = (b"-- MariaDB dump", b"-- Host:", b"-- Server version", b"-- Dump completed", b"-- ORDER BY:")


@pytest.fixture(scope="module")
def server():
    if shutil.which("mariadb-dump") is None:
        require_service("mariadb-dump is not installed")
    url = sa.engine.make_url(mysql_url())
    engine = engine_or_skip(url.render_as_string(hide_password=False), "MariaDB")
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {DATABASE}"))
    db_engine = sa.create_engine(url.set(database=DATABASE))
    yield url, db_engine
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE}"))
    db_engine.dispose()
    engine.dispose()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory):
    sample = generate(seed=3, n_articles=60, n_files=80, n_days=3, cache_dir=tmp_path_factory.mktemp("cache"))
    return sample.state(1)


def _mariadb_dump(url: sa.engine.URL, table: str) -> bytes:
    cmd = ["mariadb-dump", f"-h{url.host or '127.0.0.1'}", f"-P{url.port or 3306}", f"-u{url.username or 'root'}"]
    if url.password:
        cmd.append(f"-p{url.password}")
    # production's flags, plus --order-by-primary: InnoDB may scan a covering secondary index
    # (linktarget, imagelinks) while Wikimedia's files come out in primary-key order
    cmd += ["--opt", "--quick", "--skip-add-locks", "--skip-lock-tables", "--order-by-primary", DATABASE, table]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


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
    cmd = ["mariadb", f"-h{url.host or '127.0.0.1'}", f"-P{url.port or 3306}", f"-u{url.username or 'root'}", DATABASE]
    subprocess.run(cmd, input=classic, check=True, capture_output=True)
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT lt_title FROM linktarget WHERE lt_id = 1")).scalar_one()
    assert got == tricky.encode()
