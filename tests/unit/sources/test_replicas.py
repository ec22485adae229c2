"""The replica client against SQLite replicas holding the tiny wiki."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tests.unit.replica_tables import COMMONS, HOSTILE_FILE, HOSTILE_TITLE, WIKI, no_sleep, reference
from wikivis.config import load_settings
from wikivis.errors import ConfigError, NotFoundError, RetriesExceeded, SourceError
from wikivis.lake import Lake
from wikivis.mirror.replica_loader import load_replica
from wikivis.sources import replicas
from wikivis.sources.replicas import (
    LinktargetViewError,
    ReplicaRetryPolicy,
    ReplicaSource,
    read_replica_cnf,
    replica_url,
)
from wikivis.stages.ingest import pull_replica as pull


def rows(batches) -> list[dict]:
    batches = list(batches)
    return pa.Table.from_batches(batches).to_pylist() if batches else []


def sort(items: list[dict], *keys: str) -> list[dict]:
    return sorted(items, key=lambda r: tuple(r[k] for k in keys))


# ---------------------------------------------------------------------------- datasets
@pytest.mark.parametrize("batch_rows", [1, 2, 3, 7, 10_000])
def test_keyset_pagination_gives_every_row_once(replica_settings, tiny, batch_rows):
    expected = reference(tiny)
    with ReplicaSource(replica_settings, batch_rows=batch_rows, chunk_rows=2) as source:
        client = source.client(WIKI)
        images = rows(client.article_images())
        assert sort(images, "page_id", "file_name") == expected["article_images"]
        assert not [k for k, n in Counter((r["page_id"], r["file_name"]) for r in images).items() if n > 1]
        assert rows(client.pages()) == expected["pages"]
        assert sort(rows(client.article_categories()), "page_id", "category") == expected["article_categories"]
        files = rows(source.client(COMMONS).files())
        assert [r["file_name"] for r in files] == sorted(r["img_name"] for r in tiny[COMMONS]["image"])


def test_batches_are_bounded(replica_settings):
    with ReplicaSource(replica_settings, batch_rows=4, chunk_rows=3) as source:
        sizes = [b.num_rows for b in source.client(WIKI).article_images()]
    assert max(sizes) <= 4
    assert sum(sizes) == 27


def test_hostile_titles_are_data_not_sql(replica_settings):
    with ReplicaSource(replica_settings) as source:
        client = source.client(WIKI)
        by_page = {r["page_id"]: r for r in rows(client.pages())}
        assert by_page[2]["page_title"] == HOSTILE_TITLE
        images = client.images_of_pages([2]).to_pylist()
        assert {r["file_name"] for r in images} == {HOSTILE_FILE, "A.jpg"}
        assert {r["file_name"]: r["is_lead"] for r in images}[HOSTILE_FILE] is True
        found = rows(source.client(COMMONS).files_by_name([HOSTILE_FILE, "x'); DROP TABLE image;--"]))
        assert [r["file_name"] for r in found] == [HOSTILE_FILE]
    engine = sa.create_engine(replica_settings.replica_url(WIKI))
    with engine.connect() as conn:  # nothing was dropped
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM page").scalar() == 8
    engine.dispose()


@pytest.mark.parametrize("wiki", ["en; DROP DATABASE x", "../etc", "EnWiki", "", "a", "enwiki'--", "x" * 60])
def test_hostile_wiki_names_are_rejected(settings, wiki):
    with pytest.raises(ConfigError):
        replica_url(settings, wiki)
    with ReplicaSource(settings) as source, pytest.raises(ConfigError):
        source.client(wiki)
    with pytest.raises(ConfigError):
        load_replica({}, "mysql+pymysql://root@127.0.0.1:1/test", wiki)


def test_hostile_db_prefix_is_rejected():
    with pytest.raises(ConfigError):
        load_replica({}, "mysql+pymysql://root@127.0.0.1:1/test", "enwiki", db_prefix="x`; DROP DATABASE test; --")


def test_images_of_pages_matches_the_full_scan(replica_settings, tiny):
    expected = [r for r in reference(tiny)["article_images"] if r["page_id"] in (1, 3, 5, 6, 8)]
    with ReplicaSource(replica_settings) as source:
        got = source.client(WIKI).images_of_pages([1, 3, 5, 6, 8, 999])
    assert sort(got.to_pylist(), "page_id", "file_name") == expected
    assert got.schema.equals(replicas.dataset_schema("article_images"))


def test_lead_flag_covers_both_pageimages_properties(replica_settings):
    with ReplicaSource(replica_settings) as source:
        leads = source.client(WIKI).lead_images([1, 2, 3])
    assert leads == {(1, "A.jpg"), (1, "B.png"), (2, HOSTILE_FILE)}  # not wikibase_item's value


# ---------------------------------------------------------------------------- schema detection
def test_detects_current_schema(replica_settings):
    with ReplicaSource(replica_settings) as source:
        schema = source.client(WIKI).detect_schema()
    assert (schema.imagelinks, schema.categorylinks, schema.linktarget_is_view) == ("target_id", "target_id", False)
    assert schema.query("article_images") == "article_images"


def test_legacy_schema_gives_the_same_datasets(settings, tiny, tmp_path):
    lake_current, lake_legacy = Lake(tmp_path / "current"), Lake(tmp_path / "legacy")
    for wiki, tables in tiny.items():
        load_replica(tables, settings.replica_url(wiki), wiki)
    pull(settings, WIKI, "20260101", lake=lake_current)
    load_replica(tiny[WIKI], settings.replica_url(WIKI), WIKI, legacy=True)
    result = pull(settings, WIKI, "20260101", lake=lake_legacy)
    assert (result.schema.imagelinks, result.schema.categorylinks) == ("legacy", "legacy")
    for dataset, wiki in (("pages", WIKI), ("article_images", WIKI), ("article_categories", WIKI), ("files", COMMONS)):
        assert lake_legacy.read(dataset, wiki, "20260101").equals(lake_current.read(dataset, wiki, "20260101"))


def test_hidden_linktargets_raise_a_typed_error(settings, tiny):
    load_replica(tiny[WIKI], settings.replica_url(WIKI), WIKI, hide_imagelinks_only_linktargets=True)
    with ReplicaSource(settings) as source:
        client = source.client(WIKI)
        with pytest.raises(LinktargetViewError) as err:
            client.detect_schema()
        message = str(err.value)
        assert "imagelinks" in message
        assert "analytics" in message
        assert "dumps" in message
        assert "widen" in message
        assert client.detect_schema(check_views=False).linktarget_is_view is True
        with pytest.raises(LinktargetViewError):
            list(client.article_images())


def test_view_showing_every_used_target_passes(settings, tiny):
    tables = dict(tiny[WIKI])
    tables["templatelinks"] = [{"tl_from": 6, "tl_target_id": r["lt_id"], "tl_from_namespace": 0}
                               for r in tiny[WIKI]["linktarget"]]
    load_replica(tables, settings.replica_url(WIKI), WIKI, hide_imagelinks_only_linktargets=True)
    with ReplicaSource(settings) as source:
        client = source.client(WIKI)
        assert client.detect_schema().linktarget_is_view is True
        assert len(rows(client.article_images())) == 27


def test_empty_link_tables_pass_the_view_probe(settings):
    load_replica({"page": []}, settings.replica_url(WIKI), WIKI, hide_imagelinks_only_linktargets=True)
    with ReplicaSource(settings) as source:
        client = source.client(WIKI)
        client.detect_schema()
        assert rows(client.article_images()) == []


def test_missing_link_columns_are_a_source_error(replica_settings):
    engine = sa.create_engine(replica_settings.replica_url(WIKI))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE imagelinks")
        conn.exec_driver_sql("CREATE TABLE imagelinks (il_from INTEGER, il_other TEXT)")
    engine.dispose()
    with ReplicaSource(replica_settings) as source, pytest.raises(SourceError, match="il_target_id"):
        source.client(WIKI).detect_schema()


def test_missing_table_is_a_source_error_naming_the_replica(replica_settings):
    engine = sa.create_engine(replica_settings.replica_url(WIKI))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE categorylinks")
    engine.dispose()
    with ReplicaSource(replica_settings) as source, pytest.raises(SourceError) as err:
        source.client(WIKI).detect_schema()
    assert "samplewiki" not in str(err.value)
    assert WIKI in str(err.value)
    assert "categorylinks" in str(err.value)


def test_missing_sqlite_replica_is_not_found(settings):
    with ReplicaSource(settings) as source, pytest.raises(NotFoundError, match="load-sample"):
        source.client(WIKI)


# ---------------------------------------------------------------------------- failures and resume
class Faults:
    """Raise a retryable MariaDB error on chosen SELECTs or chunks (what a KILL looks like)."""

    def __init__(self, code: int = 2013) -> None:
        self.code = code
        self.fail_executes: set[int] = set()
        self.fail_chunks: set[int] = set()
        self.executes = 0
        self.chunks = 0

    def error(self) -> sa.exc.OperationalError:
        return sa.exc.OperationalError("SELECT …", {}, pymysql.err.OperationalError(self.code, "Lost connection"))

    def before_execute(self, conn, cursor, statement, parameters, context, executemany):
        if "FROM imagelinks" in statement and "JOIN" in statement:
            self.executes += 1
            if self.executes in self.fail_executes:
                raise self.error()


@pytest.fixture
def faulty(replica_settings, monkeypatch):
    faults = Faults()
    source = ReplicaSource(replica_settings, batch_rows=5, chunk_rows=2, sleep=no_sleep)
    event.listen(source.engine(WIKI), "before_cursor_execute", faults.before_execute)
    original = replicas.rows_to_batch

    def chunk_then_maybe_fail(keys, rows_):
        faults.chunks += 1
        if faults.chunks in faults.fail_chunks:
            raise faults.error()
        return original(keys, rows_)

    monkeypatch.setattr(replicas, "rows_to_batch", chunk_then_maybe_fail)
    yield source, faults
    source.close()


@pytest.mark.parametrize("code", [2013, 2006, 1317, 1969, 3024, 1927])
def test_resumes_after_a_failed_query_without_duplicates_or_gaps(faulty, tiny, code):
    source, faults = faulty
    faults.code = code
    faults.fail_executes = {2, 3, 5}
    got = rows(source.client(WIKI).article_images())
    assert sort(got, "page_id", "file_name") == reference(tiny)["article_images"]
    assert len(got) == len({(r["page_id"], r["file_name"]) for r in got})
    assert source.counters.retries == 3


def test_resumes_mid_batch_from_the_last_converted_chunk(faulty, tiny):
    source, faults = faulty
    faults.fail_chunks = {2, 5, 6, 11}  # inside batches of 5 rows read 2 at a time
    got = rows(source.client(WIKI).article_images())
    assert sort(got, "page_id", "file_name") == reference(tiny)["article_images"]
    assert len(got) == 27
    assert source.counters.retries == 4


@pytest.mark.parametrize("wrapped", [True, False])
def test_gives_up_per_policy_with_a_typed_error(replica_settings, wrapped):
    attempts = []
    source = ReplicaSource(replica_settings, policy=ReplicaRetryPolicy(max_attempts=3), sleep=attempts.append)

    def always_fail(*_args):
        lost = pymysql.err.OperationalError(2013, "Lost connection")
        raise sa.exc.OperationalError("SELECT", {}, lost) if wrapped else lost

    event.listen(source.engine(WIKI), "before_cursor_execute", always_fail)
    with pytest.raises(RetriesExceeded, match="3 attempts"):
        source.client(WIKI).detect_schema()
    assert attempts == [1.0, 2.0]  # exponential backoff from the declared policy
    source.close()


def test_non_retryable_errors_are_not_retried(replica_settings):
    source = ReplicaSource(replica_settings, sleep=no_sleep)

    def syntax_error(*_args):
        raise sa.exc.ProgrammingError("SELECT", {}, pymysql.err.ProgrammingError(1064, "syntax"))

    event.listen(source.engine(WIKI), "before_cursor_execute", syntax_error)
    with pytest.raises(SourceError) as err:
        list(source.client(WIKI).pages())
    assert not isinstance(err.value, RetriesExceeded)
    assert source.counters.retries == 0
    source.close()


def test_retry_policy_is_data():
    policy = ReplicaRetryPolicy()
    lost = sa.exc.OperationalError("s", {}, pymysql.err.OperationalError(2013, "lost"))
    syntax = sa.exc.ProgrammingError("s", {}, pymysql.err.ProgrammingError(1064, "bad"))
    assert policy.is_retryable(lost)
    assert not policy.is_retryable(syntax)
    assert {2006, 2013, 1317, 1969, 3024} <= policy.error_codes
    assert not ReplicaRetryPolicy(error_codes=frozenset()).is_retryable(lost)


def test_one_connection_is_enough(replica_settings, tiny):
    """A scan and its lead-image lookups share one connection: no self-deadlock at limit 1."""
    settings = replica_settings.replace(replica_max_connections=1)
    with ReplicaSource(settings, batch_rows=3) as source:
        assert len(rows(source.client(WIKI).article_images())) == 27


# ---------------------------------------------------------------------------- credentials and URLs
def test_replica_cnf_is_read_without_interpolation(tmp_path: Path):
    cnf = tmp_path / "replica.my.cnf"
    cnf.write_text("[client]\nuser = s51234\npassword = 'p%ss:w/rd@x'\n", encoding="utf-8")
    assert read_replica_cnf(cnf) == ("s51234", "p%ss:w/rd@x")
    with pytest.raises(ConfigError, match="does not exist"):
        read_replica_cnf(tmp_path / "missing.cnf")
    (tmp_path / "bad.cnf").write_text("[mysql]\nuser=x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[client\]"):
        read_replica_cnf(tmp_path / "bad.cnf")


def test_live_url_uses_the_analytics_host_and_cnf_credentials(tmp_path: Path):
    cnf = tmp_path / "replica.my.cnf"
    cnf.write_text("[client]\nuser=u42\npassword=s3cr%t@/\n", encoding="utf-8")
    settings = load_settings(env={}, profile="live", contact="t@example.org", home=tmp_path, replica_cnf=str(cnf))
    url = replica_url(settings, "enwiki")
    assert url.host == "enwiki.analytics.db.svc.wikimedia.cloud"
    assert url.database == "enwiki_p"
    assert (url.username, url.password) == ("u42", "s3cr%t@/")
    assert "s3cr" not in replicas.redacted(url)


def test_url_template_and_embedded_default(tmp_path: Path):
    settings = load_settings(env={}, home=tmp_path, replica_url_template="mysql+pymysql://me:pw@127.0.0.1:3307/{db}")
    url = replica_url(settings, "dewiki")
    assert (url.host, url.port, url.database, url.username) == ("127.0.0.1", 3307, "dewiki_p", "me")
    local = replica_url(load_settings(env={}, home=tmp_path), "dewiki")
    assert local.get_backend_name() == "sqlite"
    assert local.database.endswith("replica/dewiki_p.sqlite")


def test_article_items_keep_q_ids_only_like_the_dump_path(settings, tiny) -> None:
    from wikivis.dumps.ingest import build_article_items, build_pages

    tiny[WIKI]["page_props"] += [
        {"pp_page": 1, "pp_propname": "wikibase_item", "pp_value": "Q42", "pp_sortkey": None},
        {"pp_page": 2, "pp_propname": "wikibase_item", "pp_value": "Q1' OR 1=1", "pp_sortkey": None},
        {"pp_page": 4, "pp_propname": "wikibase_item", "pp_value": "Q7", "pp_sortkey": None},  # a redirect
        {"pp_page": 5, "pp_propname": "wikibase_item", "pp_value": "Q8", "pp_sortkey": None},  # not an article
        {"pp_page": 6, "pp_propname": "wikibase_item", "pp_value": "Q9", "pp_sortkey": None},
    ]
    for wiki, tables in tiny.items():
        load_replica(tables, settings.replica_url(wiki), wiki)
    settings = settings.replace(replica_batch_rows=1)
    with ReplicaSource(settings) as source:
        got = rows(source.client(WIKI).article_items())
    assert got == [{"wiki": WIKI, "page_id": 1, "item": "Q42"}, {"wiki": WIKI, "page_id": 6, "item": "Q9"}]
    page = pa.Table.from_pylist([{k: r[k] for k in ("page_id", "page_namespace", "page_title", "page_is_redirect")}
                                 for r in tiny[WIKI]["page"]])
    props = pa.Table.from_pylist([{k: r[k].encode() if isinstance(r[k], str) else r[k]
                                   for k in ("pp_page", "pp_propname", "pp_value")} for r in tiny[WIKI]["page_props"]])
    assert build_article_items(WIKI, build_pages(WIKI, page), props).to_pylist() == got


def test_images_of_one_article_is_the_quarry_query(replica_settings) -> None:
    with ReplicaSource(replica_settings) as source:
        client = source.client(WIKI)
        got = client.images_of_article("Alpha")
        assert [(r["file_name"], r["is_lead"], r["is_lead_free"]) for r in got] == [
            ("A.jpg", True, False), ("B.png", False, True), ("Ž.svg", False, False)]
        assert [r["file_name"] for r in client.images_of_article("ünïcödé Łódź")] == ["Ž.svg"]
        assert client.images_of_article(HOSTILE_TITLE.replace(" ", "_")) == []  # data, not SQL (spaces are DB-key underscores)
        assert client.images_of_article("No such page") == []
