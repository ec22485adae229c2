"""Connections → wikivis settings and clients (plugins/wikivis_airflow/hooks.py).

Connections are injected as ``AIRFLOW_CONN_*`` variables, the way a deployment's secrets
backend would provide them; no metadata DB is needed.
"""

from __future__ import annotations

import json
import os

import pytest

from wikivis.testing import mysql_url

pytestmark = pytest.mark.dags

PASSWORD = "p@ss:w{rd}/secret"
REPLICAS = {"conn_type": "mysql", "host": "{wiki}.analytics.db.svc.wikimedia.cloud", "login": "u123",
            "password": PASSWORD, "port": 3306, "schema": "{db}"}
COMMONS = {"conn_type": "http", "host": "https://commons.wikimedia.org",
           "extra": {"contact": "https://example.org/wikivis; ops@example.org"}}
STREAMS = {"conn_type": "http", "host": "stream.wikimedia.org", "extra": {"contact": "ops@example.org"}}


@pytest.fixture
def connections(monkeypatch):
    for name, conn in (("WIKIVIS_REPLICAS", REPLICAS), ("WIKIVIS_COMMONS_API", COMMONS),
                       ("WIKIVIS_EVENTSTREAMS", STREAMS)):
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(conn))


def test_replica_connection_becomes_a_url_template_with_encoded_credentials(connections):
    from wikivis_airflow.hooks import WikiReplicasHook

    hook = WikiReplicasHook()
    template = hook.url_template()
    assert template == ("mysql+pymysql://u123:p%40ss%3Aw%7Brd%7D%2Fsecret@{wiki}.analytics.db.svc.wikimedia.cloud"
                        ":3306/{db}?charset=utf8mb4")
    url = hook.sqlalchemy_url("enwiki")
    assert (url.host, url.database, url.password) == ("enwiki.analytics.db.svc.wikimedia.cloud", "enwiki_p", PASSWORD)
    assert PASSWORD not in url.render_as_string(hide_password=True)
    assert PASSWORD not in repr(hook)


def test_http_connections_become_endpoints_and_a_policy_user_agent(connections):
    from wikivis_airflow.hooks import CommonsApiHook, EventStreamsHook

    from wikivis.config import load_settings

    assert CommonsApiHook().endpoint_url() == "https://commons.wikimedia.org/w/api.php"
    assert EventStreamsHook().endpoint_url() == "https://stream.wikimedia.org"
    base = load_settings(env={}, profile="live", contact="placeholder@example.org")
    settings = CommonsApiHook().settings(base)
    assert settings.commons_api_url == "https://commons.wikimedia.org/w/api.php"
    assert "(https://example.org/wikivis; ops@example.org)" in settings.user_agent
    session = CommonsApiHook().get_conn()
    assert "ops@example.org" in session.headers["User-Agent"]


def test_a_task_builds_its_settings_from_the_connections_without_touching_the_environment(connections):
    from wikivis_airflow.hooks import task_settings

    before = dict(os.environ)
    settings = task_settings()
    assert dict(os.environ) == before
    assert settings.commons_api_url == "https://commons.wikimedia.org/w/api.php"
    assert settings.eventstreams_url == "https://stream.wikimedia.org"
    assert settings.replica_url("frwiki").startswith("mysql+pymysql://u123:p%40ss")
    assert "frwiki.analytics.db.svc.wikimedia.cloud:3306/frwiki_p" in settings.replica_url("frwiki")


def test_missing_connections_change_nothing(monkeypatch):
    from wikivis_airflow.hooks import connection_settings_overrides, settings_with_connections

    from wikivis.config import load_settings

    for name in ("WIKIVIS_REPLICAS", "WIKIVIS_COMMONS_API", "WIKIVIS_EVENTSTREAMS"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{name}", raising=False)
    assert connection_settings_overrides() == {}
    base = load_settings(env={})
    assert settings_with_connections(base) is base


def test_replica_engine_connects_without_logging_the_password(monkeypatch):
    """Against the loopback MariaDB (the replicas' engine) when it is running."""
    from sqlalchemy.engine import make_url
    from wikivis_airflow.hooks import WikiReplicasHook

    from wikivis.testing import engine_or_skip

    engine_or_skip(mysql_url(), "MariaDB").dispose()
    target = make_url(mysql_url())
    conn = {"conn_type": "mysql", "host": target.host, "port": target.port or 3306, "login": target.username,
            "password": target.password or "", "schema": target.database}
    monkeypatch.setenv("AIRFLOW_CONN_WIKIVIS_REPLICAS", json.dumps(conn))
    logged: list[str] = []

    class RecordingLog:
        def info(self, message: str, *args: object) -> None:
            logged.append(message % args)

    monkeypatch.setattr(WikiReplicasHook, "log", property(lambda self: RecordingLog()))
    engine = WikiReplicasHook().get_conn("samplewiki")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
    [message] = logged
    assert message.startswith(f"connecting to mysql+pymysql://{target.username}")
    assert not target.password or target.password not in message


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        ("dumps", {"dumps_max_connections": 1}),
        ("commons_api", {"api_max_concurrency": 1}),
        ("commons_upload", {"upload_max_concurrency": 1, "upload_max_mbps": 12.5}),
        ("default_pool", {}),
        (None, {}),
    ],
)
def test_a_pooled_task_uses_only_its_share_of_the_politeness_limits(pool, expected):
    """2 ingest slots × 1 dumps connection = 2; 3 API slots × 1 request = 3; 2 upload slots ×
    (1 connection, 12.5 Mbps) = 2 and 25 Mbps."""
    from wikivis_airflow.defaults import share_pool_limits

    from wikivis.config import load_settings

    base = load_settings(env={})
    shared = share_pool_limits(base, pool)
    assert {k: getattr(shared, k) for k in expected} == expected
    assert shared.replace(**{k: getattr(base, k) for k in expected}) == base  # nothing else changes


def test_ingest_uses_the_replica_connection_through_the_hook(connections, monkeypatch):
    """The nightly's ingest hands ``WikiReplicasHook.get_conn`` to the pipeline when the
    ``wikivis_replicas`` connection exists, and nothing when it does not."""
    from wikivis_airflow.hooks import WikiReplicasHook
    from wikivis_airflow.stages import replica_engine_factory

    from wikivis.config import load_settings
    from wikivis.stages.ingest import resolve_ingest_source

    factory = replica_engine_factory()
    assert factory is not None and factory.__func__ is WikiReplicasHook.get_conn
    settings = load_settings(env={}, ingest_sources=("enwiki=auto", "dewiki=replica"))
    assert resolve_ingest_source(settings, "enwiki", replica_available=factory is not None) == "replica"
    del os.environ["AIRFLOW_CONN_WIKIVIS_REPLICAS"]
    assert replica_engine_factory() is None
    assert resolve_ingest_source(settings, "enwiki", replica_available=False) == "dumps"
    assert resolve_ingest_source(settings, "dewiki", replica_available=False) == "replica"
    assert resolve_ingest_source(settings, "frwiki", replica_available=True) == "dumps"


def test_the_settings_url_passwords_are_registered_with_airflows_masker(monkeypatch):
    """Issue 15, item 13: Airflow's own task log lines mask the catalog and replica passwords."""
    from wikivis_airflow import hooks

    assert hooks.url_passwords("postgresql+psycopg://airflow:Pg%40Secret@postgres/wikivis",
                               "mysql+pymysql://u:Rep{x}@{wiki}.host/{db}", "sqlite:////tmp/c.sqlite", "") == [
        "Pg@Secret", "Rep{x}"]
    masked: list[str] = []
    monkeypatch.setattr("airflow.sdk.log.mask_secret", masked.append)
    monkeypatch.setenv("WIKIVIS_CATALOG_URL", "postgresql+psycopg://airflow:PgSecret@postgres/wikivis")
    monkeypatch.delenv("AIRFLOW_CONN_WIKIVIS_REPLICAS", raising=False)
    assert hooks.mask_wikivis_secrets() == 1
    assert masked == ["PgSecret"]
