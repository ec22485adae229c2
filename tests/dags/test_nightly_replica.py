"""The nightly on the Wiki Replica path (issue #16): the sample wiki loaded into the loopback
MariaDB as ``<wiki>_p`` databases (what ``wikivis replica load-sample --server`` does), the
``wikivis_replicas`` Airflow connection pointing at it, and ``ingest_sources`` saying
``replica``.  The datasets the run publishes equal those of the same nightly on the dumps."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.dags.test_nightly_e2e import _settings, _states, run_nightly

pytestmark = [pytest.mark.dags, pytest.mark.integration, pytest.mark.slow]

TABLES = ("pages", "article_images", "article_categories", "article_items")


@pytest.fixture
def replica_server(sample_wiki):
    """The sample wiki's first day in MariaDB under a per-test prefix; dropped afterwards."""
    import sqlalchemy as sa

    from wikivis.mirror.replica_loader import load_replica, replica_database_name
    from wikivis.testing import engine_or_skip, mysql_url

    url = sa.engine.make_url(mysql_url()).set(database=None)
    server = engine_or_skip(url.render_as_string(hide_password=False), "MariaDB")
    prefix = f"wvdag{uuid.uuid4().hex[:6]}_"
    wikis = sample_wiki.state(0).wiki_tables
    try:
        for name, tables in wikis.items():
            load_replica(tables, url.render_as_string(hide_password=False), name, db_prefix=prefix)
        yield url, prefix
    finally:
        with server.begin() as conn:
            for name in wikis:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{replica_database_name(name, prefix)}`")
        server.dispose()


def test_the_nightly_on_the_replicas_publishes_what_the_dumps_nightly_publishes(
    dagbag, airflow_db, mirror, sample_wiki, tmp_path, use_settings, replica_server, monkeypatch
):
    from wikivis.lake import Lake

    url, prefix = replica_server
    wiki, day = sample_wiki.wiki, sample_wiki.dates[0]
    connection = {"conn_type": "mysql", "host": url.host or "127.0.0.1", "port": url.port or 3306,
                  "login": url.username or "root", "password": url.password or "", "schema": prefix + "{db}"}
    monkeypatch.setenv("AIRFLOW_CONN_WIKIVIS_REPLICAS", json.dumps(connection))

    published = {}
    for source in ("replica", "dumps"):
        settings = _settings(mirror, tmp_path / source, ingest_sources=(f"{wiki}={source}",))
        use_settings(settings)
        run = run_nightly(dagbag, day)
        assert str(run.state) == "success", _states(run)
        lake = Lake.from_settings(settings)
        publication = lake.publication(wiki)
        assert publication is not None
        published[source] = {name: lake.read(name, wiki) for name in TABLES}
        ingest_stage = [r for r in _stage_runs(settings) if r["kind"] == "stage:ingest"]
        assert ingest_stage and ingest_stage[0]["params"].get("source") == source
    for name in TABLES:
        assert published["replica"][name].equals(published["dumps"][name]), name


def _stage_runs(settings):
    from wikivis.catalog import Catalog

    catalog = Catalog(settings.resolved_catalog_url)
    try:
        return catalog.runs(limit=200)
    finally:
        catalog.dispose()
