"""The replica client against a real MariaDB: session limits, kills mid-scan, schema drift,
and parity with SQLite on the sample wiki."""

from __future__ import annotations

import socket
import uuid

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tests.integration.replica_databases import replica_url_template
from tests.unit.replica_tables import COMMONS, HOSTILE_FILE, reference, tiny_tables
from tests.unit.replica_tables import WIKI as TINY_WIKI
from wikivis.config import load_settings
from wikivis.lake import Lake
from wikivis.mirror.replica_loader import drop_replica, load_replica
from wikivis.sources import replicas
from wikivis.sources.replicas import (
    LinktargetViewError,
    ReplicaRetryPolicy,
    ReplicaSource,
    create_replica_engine,
    db_error_code,
)
from wikivis.stages.ingest import pull_replica as pull
from wikivis.testing import mysql_url

pytestmark = pytest.mark.integration

WIKI = "samplewiki"


def no_sleep(_seconds: float) -> None:
    return None


def synthetic(n_pages: int = 1500, per_page: int = 12, n_files: int = 4000) -> dict[str, list[dict]]:
    """A wiki larger than the sample, with long titles: one batch of its article_images is
    ~9 MB, more than the socket buffers hold, so a KILL lands while rows still stream."""
    pages = [
        {"page_id": p, "page_namespace": 0, "page_title": f"Page_{p}_".ljust(240, "p"), "page_random": 0.5,
         "page_touched": "20260101000000", "page_latest": p, "page_len": 10}
        for p in range(1, n_pages + 1)
    ]
    targets = [{"lt_id": i, "lt_namespace": 6, "lt_title": f"File_{i:05d}_".ljust(236, "f") + ".jpg"}
               for i in range(1, n_files + 1)]
    links = [
        {"il_from": p, "il_from_namespace": 0, "il_target_id": t}
        for p in range(1, n_pages + 1)
        for t in sorted({(p * 7919 + j * 104729) % n_files + 1 for j in range(per_page)})
    ]
    return {"page": pages, "linktarget": targets, "imagelinks": links, "categorylinks": []}


@pytest.fixture(scope="module")
def big(mariadb, tmp_path_factory):
    """The synthetic wiki loaded once for this module: (loaded replica, settings, expected keys)."""
    prefix = f"wvtest_{uuid.uuid4().hex[:8]}_"
    loaded = load_replica(synthetic(), mysql_url(), WIKI, db_prefix=prefix)
    settings = load_settings(env={}, home=tmp_path_factory.mktemp("home"),
                             replica_url_template=replica_url_template(prefix))
    try:
        with ReplicaSource(settings, batch_rows=100_000) as source:
            expected = keys(table_of(source.client(WIKI).article_images()))
        yield loaded, settings, expected
    finally:
        drop_replica(loaded)


def table_of(batches) -> pa.Table:
    return pa.Table.from_batches(list(batches))


def keys(table: pa.Table) -> list[tuple[int, str]]:
    return list(zip(table.column("page_id").to_pylist(), table.column("file_name").to_pylist(), strict=True))


def scan_connections(mariadb: sa.Engine, database: str) -> list[int]:
    with mariadb.connect() as conn:
        return list(conn.execute(
            sa.text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :db AND ID <> CONNECTION_ID()"),
            {"db": database},
        ).scalars())


def kill(mariadb: sa.Engine, thread_id: int, *, query_only: bool = False) -> None:
    with mariadb.connect() as conn:
        conn.exec_driver_sql(f"KILL {'QUERY ' if query_only else ''}{int(thread_id)}")


# ---------------------------------------------------------------------------- session limits
def test_session_statement_limit_and_pool_bound(load, mariadb_settings):
    load({"page": []}, WIKI)
    settings = mariadb_settings.replace(replica_statement_timeout_s=0.25, replica_max_connections=3)
    engine = create_replica_engine(settings.replica_url(WIKI), max_connections=3, statement_timeout_s=0.25)
    try:
        assert engine.pool.size() == 3
        assert engine.pool._max_overflow == 0
        with engine.connect() as conn:
            assert float(conn.exec_driver_sql("SELECT @@max_statement_time").scalar()) == pytest.approx(0.25)
            with pytest.raises(sa.exc.OperationalError) as err:
                conn.exec_driver_sql("SELECT SLEEP(2)").all()
        assert db_error_code(err.value) == 1969
        assert ReplicaRetryPolicy().is_retryable(err.value)
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- kills
@pytest.mark.parametrize("wire", [True, False], ids=["wire", "rows"])
@pytest.mark.parametrize("query_only", [False, True])
def test_connection_killed_between_batches_resumes_without_duplicates_or_gaps(big, mariadb, query_only, wire):
    loaded, settings, expected = big
    assert len(expected) == len(set(expected)) > 10_000
    settings = settings.replace(replica_wire_decode=wire)
    with ReplicaSource(settings, batch_rows=997, chunk_rows=250, sleep=no_sleep) as source:
        got: list[pa.RecordBatch] = []
        for i, batch in enumerate(source.client(WIKI).article_images()):
            got.append(batch)
            if i in (3, 9, 15):
                for thread_id in scan_connections(mariadb, loaded.database):
                    kill(mariadb, thread_id, query_only=query_only)
        result = keys(table_of(got))
        retries = source.counters.retries
    assert result == expected  # same rows, same order: nothing read twice, nothing skipped
    if not query_only:
        assert retries >= 3  # the next batch found its connection dead and resumed on a new one


@pytest.mark.parametrize("wire", [True, False], ids=["wire", "rows"])
def test_connection_killed_while_rows_stream_resumes_mid_batch(big, mariadb, monkeypatch, wire):
    loaded, settings, expected = big
    source = ReplicaSource(settings.replace(replica_wire_decode=wire), batch_rows=100_000, chunk_rows=200, sleep=no_sleep)
    engine = source.engine(WIKI)
    current: dict[str, int] = {}

    @event.listens_for(engine, "connect")
    def small_receive_buffer(dbapi_connection, _record):
        # loopback buffers can hold a whole batch; a smaller one keeps the server mid-send
        dbapi_connection._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)

    @event.listens_for(engine, "after_cursor_execute")
    def remember_thread(conn, cursor, statement, parameters, context, executemany):
        current["thread_id"] = conn.connection.dbapi_connection.thread_id()

    chunks = {"n": 0}
    # each converted chunk passes through one of these: wire slabs (~1 MiB) or PyMySQL rows
    name = "binary_as_text" if wire else "rows_to_batch"
    convert = getattr(replicas, name)

    def kill_while_streaming(*args):
        chunks["n"] += 1
        if chunks["n"] == 2:  # two chunks converted, megabytes of rows still on the wire
            kill(mariadb, current["thread_id"])
        return convert(*args)

    monkeypatch.setattr(replicas, name, kill_while_streaming)
    try:
        result = keys(table_of(source.client(WIKI).article_images()))
    finally:
        source.close()
    assert result == expected
    assert source.counters.partial_resumes >= 1  # resumed after the last converted chunk
    assert scan_connections(mariadb, loaded.database) == []  # nothing left open


# ---------------------------------------------------------------------------- schema drift
def test_legacy_schema_and_hidden_linktargets_on_mariadb(load, mariadb_settings, sample_wiki):
    tables = sample_wiki.state(sample_wiki.n_days).tables_for(WIKI)
    load(tables, WIKI, legacy=True)
    with ReplicaSource(mariadb_settings) as source:
        schema = source.client(WIKI).detect_schema()
        legacy_rows = table_of(source.client(WIKI).article_images()).num_rows
    assert (schema.imagelinks, schema.categorylinks) == ("legacy", "legacy")
    assert legacy_rows > 0

    load(tables, WIKI, hide_imagelinks_only_linktargets=True)
    with ReplicaSource(mariadb_settings) as source, pytest.raises(LinktargetViewError, match="analytics"):
        source.client(WIKI).detect_schema()


# ---------------------------------------------------------------------------- parity
def test_mariadb_and_sqlite_replicas_give_identical_datasets(load, mariadb_settings, sample_wiki, tmp_path):
    state = sample_wiki.state(sample_wiki.n_days)
    for wiki, tables in state.wiki_tables.items():
        load(tables, wiki)
        load_replica(tables, mariadb_settings.replace(replica_url_template="").replica_url(wiki), wiki)
    on_mariadb = pull(mariadb_settings, WIKI, state.date, lake=Lake(tmp_path / "m"))
    pymysql_rows = pull(mariadb_settings.replace(replica_wire_decode=False), WIKI, state.date, lake=Lake(tmp_path / "r"))
    on_sqlite = pull(mariadb_settings.replace(replica_url_template=""), WIKI, state.date, lake=Lake(tmp_path / "s"))
    assert on_mariadb.rows == on_sqlite.rows == pymysql_rows.rows
    assert on_mariadb.rows["article_images"] > 0
    hashes = [{k: m.content_hash for k, m in result.manifests.items()} for result in (on_mariadb, pymysql_rows, on_sqlite)]
    assert hashes[0] == hashes[1] == hashes[2]


def test_tiny_wiki_with_hostile_titles_on_mariadb(load, mariadb_settings, tmp_path):
    """VARBINARY bytes, binary ordering of Unicode names, and bound hostile titles."""
    tables = tiny_tables()
    for wiki, rows in tables.items():
        load(rows, wiki)
    lake = Lake(tmp_path / "lake")
    with ReplicaSource(mariadb_settings, batch_rows=3, chunk_rows=2) as source:
        found = table_of(source.client(COMMONS).files_by_name([HOSTILE_FILE, "x'); DROP TABLE image;--"]))
        assert found.column("file_name").to_pylist() == [HOSTILE_FILE]
        files_in_key_order = table_of(source.client(COMMONS).files()).column("file_name").to_pylist()
    assert files_in_key_order == sorted(files_in_key_order, key=lambda name: name.encode())
    pull(mariadb_settings.replace(replica_batch_rows=4), TINY_WIKI, "20260101", lake=lake)
    expected = reference(tables)
    for dataset in ("pages", "article_images", "article_categories"):
        assert lake.read(dataset, TINY_WIKI, "20260101").to_pylist() == expected[dataset], dataset
    assert lake.read("files", COMMONS, "20260101").to_pylist() == expected["files"]
