"""Helpers shared by the test suite (importable without pytest at module import time).

Tests that need a loopback service (MariaDB, PostgreSQL, Redis) read its URL from the
environment with a loopback default.  When the service is down they skip with a reason —
unless ``WIKIVIS_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which turns the skip into a
failure so that CI can never go green by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from sqlalchemy import Engine

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


def engine_or_skip(url: str, what: str) -> Engine:
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


@contextmanager
def scratch_mysql_database(name: str) -> Iterator[tuple[Any, Any]]:
    """A throw-away database on the loopback MariaDB: yields ``(url, engine)`` for it (utf8mb4),
    drops it afterwards.  Skips (or fails under CI) when MariaDB or ``mariadb-dump`` is missing."""
    import shutil

    import sqlalchemy as sa

    if shutil.which("mariadb-dump") is None:
        require_service("mariadb-dump is not installed")
    url = sa.engine.make_url(mysql_url())
    server = engine_or_skip(url.render_as_string(hide_password=False), "MariaDB")
    with server.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
    db_url = url.set(database=name, query={"charset": "utf8mb4"})
    engine = sa.create_engine(db_url)
    try:
        yield db_url, engine
    finally:
        engine.dispose()
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@contextmanager
def scratch_postgres_schema(prefix: str = "wv") -> Iterator[str]:
    """A throw-away schema on the loopback PostgreSQL; yields a URL whose search path is it."""
    import uuid

    import sqlalchemy as sa

    base = postgres_url()
    engine = engine_or_skip(base, "PostgreSQL")
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def mariadb_dump(url: Any, *args: str, input: bytes | None = None, program: str = "mariadb-dump") -> bytes:
    """Run ``mariadb-dump`` (or ``mariadb``) against the server of ``url`` with ``args``."""
    import subprocess

    cmd = [program, f"-h{url.host or '127.0.0.1'}", f"-P{url.port or 3306}", f"-u{url.username or 'root'}"]
    if url.password:
        cmd.append(f"-p{url.password}")
    return subprocess.run([*cmd, *args], input=input, capture_output=True, check=True).stdout


class _ChunkStream:
    """The part of urllib3's response that ``requests`` streams from."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def stream(self, amt: Any = None, decode_content: Any = None) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        pass


def streamed_response(url: str, chunks: Iterator[bytes], content_type: str = "text/event-stream") -> Any:
    """A ``requests.Response`` (200) whose body streams ``chunks`` — for in-memory sessions
    that stand in for an SSE server in unit tests and benchmarks."""
    import requests
    from requests.structures import CaseInsensitiveDict

    response = requests.Response()
    response.status_code, response.url = 200, url
    response.headers = CaseInsensitiveDict({"Content-Type": content_type})
    response.raw = _ChunkStream(chunks)
    return response
