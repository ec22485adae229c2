"""Helpers shared by the test suite (importable without pytest at module import time).

Tests that need a loopback service (MariaDB, PostgreSQL, Redis) read its URL from the
environment with a loopback default.  When the service is down they skip with a reason —
unless ``WIKIVIS_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which turns the skip into a
failure so that CI can never go green by skipping.
"""

from __future__ import annotations

import os
from typing import NoReturn

DEFAULT_MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def services_required() -> bool:
    return os.environ.get("WIKIVIS_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def require_service(reason: str) -> NoReturn:
    """Skip the current test because a service is missing (fail under CI)."""
    import pytest

    if services_required():
        pytest.fail(f"required service unavailable (WIKIVIS_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


def mysql_url() -> str:
    return os.environ.get("WIKIVIS_TEST_MYSQL_URL", DEFAULT_MYSQL_URL)


def postgres_url() -> str:
    return os.environ.get("WIKIVIS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def redis_url() -> str:
    return os.environ.get("WIKIVIS_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def engine_or_skip(url: str, what: str):
    """Connect to ``url`` or skip/fail with a reason naming the service."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        require_service(f"{what} not reachable at {url}: {exc.__class__.__name__}: {exc}")
    return engine
