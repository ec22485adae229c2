"""MariaDB on loopback, loaded by the replica loader into uniquely named ``wvtest_*`` databases."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from wikivis.mirror.replica_loader import LoadedReplica, drop_replica, load_replica
from wikivis.testing import engine_or_skip, mysql_url


@pytest.fixture(scope="session")
def mariadb() -> Iterator[sa.Engine]:
    engine = engine_or_skip(mysql_url(), "MariaDB")
    yield engine
    engine.dispose()


@pytest.fixture
def db_prefix() -> str:
    return f"wvtest_{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def load(mariadb, db_prefix) -> Iterator[Callable[..., LoadedReplica]]:
    """``load(tables, wiki, **options)`` → a loaded replica, dropped after the test."""
    loaded: list[LoadedReplica] = []

    def _load(tables, wiki: str, **options) -> LoadedReplica:
        result = load_replica(tables, mysql_url(), wiki, db_prefix=db_prefix, **options)
        loaded.append(result)
        return result

    yield _load
    for item in loaded:
        drop_replica(item)


def replica_url_template(db_prefix: str) -> str:
    """``<server>/<db_prefix>{db}``: what ``Settings.replica_url(wiki)`` formats."""
    server = make_url(mysql_url())
    base = sa.URL.create(server.drivername, server.username, server.password, server.host, server.port)
    query = "&".join(f"{k}={v}" for k, v in server.query.items())
    return f"{base.render_as_string(hide_password=False)}/{db_prefix}{{db}}" + (f"?{query}" if query else "")


@pytest.fixture
def mariadb_settings(settings, db_prefix):
    """Settings whose replica_url(wiki) is ``<prefix><wiki>_p`` on the loopback server."""
    return settings.replace(replica_url_template=replica_url_template(db_prefix))
