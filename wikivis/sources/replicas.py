"""Wiki Replica client: MediaWiki tables over SQL, streamed as Arrow, resumable.

Facts this module is built on (see docs/reference: wikimedia-sources.md §3):

* **Hosts.**  ``<db>.analytics.db.svc.wikimedia.cloud`` (3 h query limit, enforced by
  pt-kill) or ``….web.…`` (5 min); database ``<db>_p``.  Every section (s1–s8) is its own
  MariaDB instance, so **no join across wikis**: enwiki's imagelinks and commonswiki's
  ``image`` are joined here, in application code (:meth:`ReplicaClient.files_by_name`).
* **Credentials.**  ``$HOME/replica.my.cnf`` (``[client] user=… password=…``), or a URL /
  engine injected by the caller (an Airflow hook builds one from a Connection).  Each replica
  user may hold ``MAX_USER_CONNECTIONS`` 10 connections; we hold at most
  ``Settings.replica_max_connections`` (a pool of that size *and* a semaphore shared by every
  wiki of one :class:`ReplicaSource`, so waiting threads queue instead of timing out).
* **Reading.**  Keyset pagination on each table's primary key in bounded batches
  (``Settings.replica_batch_rows``), each batch read with a server-side cursor
  (``stream_results`` → pymysql ``SSCursor``) and converted slab by slab to Arrow, so
  memory is flat in table size.  One connection is held per scan, in autocommit
  mode (no read view held open for hours on a shared replica).  The link-table queries pick
  each batch's keys in a derived table and LEFT JOIN page/linktarget to it (see
  ``sql/queries/article_images.sql``): joined directly, MariaDB drives from ``page`` and
  sorts the whole join for every batch.  Non-article rows are dropped here, in Arrow
  (:func:`articles_only`), with the same rules as the dump path.
* **Throughput.**  PyMySQL parses every row in pure Python (≈100k article_images rows/s on
  one core here, whatever the server does).  So once PyMySQL has read a streaming result's
  column definitions, :mod:`wikivis.sources.mysql_wire` reads the row packets off the same
  connection and decodes them column-wise into Arrow (numpy + Arrow, ~0.5 µs a row): the
  server's join becomes the bottleneck, ~1.6-1.8× a naive ``pandas.read_sql`` of the same
  query in flat memory (bench/replica_pull.py).  Column types it does not decode (DECIMAL,
  dates, …), SQLite, and ``replica_wire_decode = false`` use PyMySQL's rows, same datasets
  (tested).
* **Failures.**  A killed query or dropped connection (2013/2006 lost/gone, 1317 interrupted,
  1927 connection killed, 1969/3024 statement time exceeded, …) is retried per
  :class:`ReplicaRetryPolicy` (data, executed by tenacity) on a fresh connection, **from the
  last key already converted**: rows are never read twice and never skipped.
* **Session limits.**  ``SET SESSION max_statement_time`` (MariaDB, seconds) or
  ``max_execution_time`` (MySQL, ms) on every new connection; nothing on SQLite.
* **Schema drift.**  :meth:`ReplicaClient.detect_schema` checks at run time whether
  imagelinks/categorylinks carry ``*_target_id`` (current) or ``il_to``/``cl_to`` (legacy),
  and whether the replica's ``linktarget`` *view* hides the targets imagelinks uses (the 2024
  maintain-views.yaml view kept only targets used by templatelinks/pagelinks): then a join
  would silently lose every image, so it raises :class:`LinktargetViewError` instead.
* **Scope.**  This module only talks to the replicas and hands back Arrow batches; writing
  them to the lake (``pull_replica``) belongs to the ingest stage, :mod:`wikivis.stages.ingest`.
* **SQLite.**  The embedded default (``Settings.replica_url(wiki)``: a file under home, filled
  by :mod:`wikivis.mirror.replica_loader`); the named queries are portable to both.
"""

from __future__ import annotations

import configparser
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from wikivis.config import Settings, check_wiki_name
from wikivis.datasets import base36_to_hex
from wikivis.datasets import schema as dataset_schema
from wikivis.errors import ConfigError, NotFoundError, RetriesExceeded, SourceError
from wikivis.sources.http import ConcurrencyLimiter, SharedCounters
from wikivis.sources.mysql_wire import WireReader, wire_columns
from wikivis.sqlq import load_query
from wikivis.vocab import NS_CATEGORY, NS_FILE, NS_MAIN

#: page_props.wikibase_item values kept (the dump path's rule)
ITEM_PATTERN = r"^Q[1-9][0-9]*$"

#: live replica host and URL (analytics: long queries allowed)
LIVE_HOST_TEMPLATE = "{wiki}.analytics.db.svc.wikimedia.cloud"
LIVE_URL_TEMPLATE = "mysql+pymysql://{host}:3306/{db}?charset=utf8mb4"
DEFAULT_CNF = Path("~/replica.my.cnf")


#: PageImages page_props: best image (any licence) and best free image; both mark the lead
LEAD_IMAGE_PROPS = ("page_image", "page_image_free")
#: ids / names per ``IN (…)`` lookup
LOOKUP_CHUNK = 1000
#: rows of a link table sampled by the linktarget-view probe
VIEW_PROBE_ROWS = 200
#: rows converted to Arrow at a time while a batch streams (``yield_per``)
CHUNK_ROWS = 5000

EngineFactory = Callable[[str], sa.Engine]


class LinktargetViewError(SourceError):
    """The replica's ``linktarget`` view hides rows that imagelinks/categorylinks point at."""


# --------------------------------------------------------------------------- retry policy
#: MariaDB/MySQL client and server error codes after which a read is retried on a new connection
RETRYABLE_DB_ERRORS: frozenset[int] = frozenset(
    {
        1040,  # too many connections
        1053,  # server shutdown in progress
        1203,  # user has more than max_user_connections
        1205,  # lock wait timeout
        1213,  # deadlock
        1317,  # query execution was interrupted (KILL QUERY)
        1927,  # connection was killed (MariaDB)
        1969,  # max_statement_time exceeded (MariaDB)
        2003,  # can't connect
        2006,  # server has gone away
        2013,  # lost connection during query (KILL, pt-kill, network)
        3024,  # max_execution_time exceeded (MySQL)
    }
)


def _driver_error(exc: BaseException) -> BaseException | None:
    """The DB-API exception behind ``exc`` (SQLAlchemy-wrapped or raw PyMySQL/MySQLdb)."""
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.orig
    return exc if type(exc).__module__.split(".")[0] in ("pymysql", "MySQLdb", "sqlite3") else None


def db_error_code(exc: BaseException) -> int | None:
    """The MariaDB error number behind a SQLAlchemy or PyMySQL exception, if any."""
    args = getattr(_driver_error(exc), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


@dataclass(frozen=True)
class ReplicaRetryPolicy:
    """Which database errors are retried, how long to wait, when to give up (per batch)."""

    error_codes: frozenset[int] = RETRYABLE_DB_ERRORS
    max_attempts: int = 6
    backoff_initial_s: float = 1.0
    backoff_multiplier: float = 2.0
    backoff_max_s: float = 60.0

    def is_retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            return True
        return db_error_code(exc) in self.error_codes

    def retrying(self, *, sleep: Callable[[float], None], before_sleep: Callable[[RetryCallState], None]) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_initial_s, exp_base=self.backoff_multiplier,
                                  max=self.backoff_max_s),
            retry=retry_if_exception(self.is_retryable),
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )


@dataclass
class ReplicaCounters(SharedCounters):
    queries: int = 0
    rows: int = 0
    retries: int = 0
    #: retries that kept the rows of a half-read batch and resumed after its last key
    partial_resumes: int = 0
    last_error: str = ""


# --------------------------------------------------------------------------- engines
def read_replica_cnf(path: str | Path) -> tuple[str, str]:
    """``(user, password)`` from a Toolforge ``replica.my.cnf`` (``[client]`` section)."""
    cnf = Path(path).expanduser()
    parser = configparser.ConfigParser(interpolation=None)  # passwords may contain '%'
    try:
        read = parser.read(cnf, encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigError(f"{cnf}: not a valid my.cnf file: {exc}") from exc
    if not read:
        raise ConfigError(f"replica credentials file {cnf} does not exist")
    if not parser.has_section("client"):
        raise ConfigError(f"{cnf}: no [client] section")
    values = {k: v.strip().strip("'\"") for k, v in parser.items("client")}
    if not values.get("user") or "password" not in values:
        raise ConfigError(f"{cnf}: [client] needs user= and password=")
    return values["user"], values["password"]


def replica_url(settings: Settings, wiki: str) -> sa.URL:
    """The SQLAlchemy URL of ``wiki``'s replica, credentials included.

    ``replica_url_template`` wins; otherwise the live profile uses the analytics host and the
    local profile the SQLite file under home.  Credentials come from ``replica_cnf`` (or
    ``~/replica.my.cnf`` on the live profile) unless the URL already has a user.
    """
    check_wiki_name(wiki)
    if not settings.replica_url_template and settings.profile == "live":
        url = make_url(LIVE_URL_TEMPLATE.format(host=LIVE_HOST_TEMPLATE.format(wiki=wiki), db=f"{wiki}_p"))
    else:
        url = make_url(settings.replica_url(wiki))
    if url.get_backend_name() == "sqlite" or url.username:
        return url
    cnf = settings.replica_cnf or (str(DEFAULT_CNF) if settings.profile == "live" else "")
    if cnf:
        user, password = read_replica_cnf(cnf)
        url = url.set(username=user, password=password)
    return url


def redacted(url: sa.URL | str) -> str:
    return make_url(url).render_as_string(hide_password=True) if isinstance(url, str) else url.render_as_string()


def install_session_settings(engine: sa.Engine, statement_timeout_s: float) -> None:
    """Set the per-statement time limit on every new MariaDB/MySQL connection of ``engine``."""
    if engine.dialect.name != "mysql" or statement_timeout_s <= 0:
        return

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        server = str(getattr(dbapi_connection, "get_server_info", lambda: "")())
        with dbapi_connection.cursor() as cursor:
            if "mariadb" in server.lower():
                cursor.execute(f"SET SESSION max_statement_time = {float(statement_timeout_s):.3f}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {int(statement_timeout_s * 1000)}")

    if not event.contains(engine, "connect", on_connect):
        event.listen(engine, "connect", on_connect)


def create_replica_engine(url: sa.URL | str, *, max_connections: int = 4, statement_timeout_s: float = 3600.0) -> sa.Engine:
    """One engine per wiki: bounded pool, liveness check, session time limit."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        path = url.database
        if path and path != ":memory:" and not Path(path).is_file():
            raise NotFoundError(
                f"no replica database at {path}: load one with `wikivis replica load-sample` "
                "or point replica_url_template at a server"
            )
        return sa.create_engine(url)
    engine = sa.create_engine(
        url,
        pool_size=max_connections,
        max_overflow=0,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 20},
    )
    install_session_settings(engine, statement_timeout_s)
    return engine


# --------------------------------------------------------------------------- schema detection
@dataclass(frozen=True)
class ReplicaSchema:
    """What this replica's tables look like (detected at run time)."""

    imagelinks: Literal["target_id", "legacy"]
    categorylinks: Literal["target_id", "legacy"]
    linktarget_is_view: bool = False

    def query(self, base: str) -> str:
        """The named query for ``base`` in this schema (``article_images`` → ``…_legacy``)."""
        table = _LINK_TABLE_OF_QUERY[base]
        return f"{base}_legacy" if getattr(self, table) == "legacy" else base


#: which link table decides the variant of each query that has a legacy twin
_LINK_TABLE_OF_QUERY = {
    "article_images": "imagelinks",
    "images_of_pages": "imagelinks",
    "article_categories": "categorylinks",
}


def _link_shape(columns: Sequence[str], table: str, prefix: str) -> Literal["target_id", "legacy"]:
    if f"{prefix}_target_id" in columns:
        return "target_id"
    if f"{prefix}_to" in columns:
        return "legacy"
    raise SourceError(f"{table} has neither {prefix}_target_id nor {prefix}_to (columns: {', '.join(columns)})")


# --------------------------------------------------------------------------- Arrow conversion
def rows_to_batch(keys: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
    """Rows → RecordBatch; VARBINARY ``bytes`` become UTF-8 strings (checked by Arrow)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
    arrays = []
    for values in columns:
        array = pa.array(values)
        if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
            array = array.cast(pa.string())
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=list(keys))


def binary_as_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """VARBINARY columns of a wire-decoded batch as UTF-8 strings, as :func:`rows_to_batch` does."""
    if not any(pa.types.is_binary(t) or pa.types.is_large_binary(t) for t in batch.schema.types):
        return batch
    arrays = [
        a.cast(pa.large_string() if pa.types.is_large_binary(a.type) else pa.string())
        if pa.types.is_binary(a.type) or pa.types.is_large_binary(a.type) else a
        for a in batch.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _column(batch: pa.RecordBatch | pa.Table, name: str) -> list[Any]:
    result: list[Any] = batch.column(name).to_pylist()
    return result


def _pair_keys(page_id: Any, file_name: Any) -> Any:
    """One string per (page_id, file_name) pair, for vectorised membership tests."""
    return pc.binary_join_element_wise(pc.cast(page_id, pa.string()), pc.cast(file_name, pa.string()), "|")


def articles_only(raw: pa.RecordBatch | pa.Table, target_namespace: int) -> Any:
    """Rows from an article to a target in ``target_namespace``.

    An article is a page in namespace 0, and for imagelinks also a link row whose
    ``il_from_namespace`` is 0 — exactly what the dump path keeps.  The keyset queries LEFT
    JOIN page and linktarget so that a batch holds every scanned link row (a short batch
    then reliably means the end); the filter happens here.  Rows whose page or target is
    missing have nulls and are dropped too.
    """
    mask = pc.and_(
        pc.equal(raw.column("page_namespace"), NS_MAIN), pc.equal(raw.column("target_namespace"), target_namespace)
    )
    if "from_namespace" in raw.schema.names:
        mask = pc.and_(mask, pc.equal(raw.column("from_namespace"), NS_MAIN))
    return raw.filter(mask)


def _prefetched_rows(result: sa.CursorResult[Any]) -> list[tuple[Any, ...]] | None:
    """The rows SQLAlchemy already took from a streaming cursor, or None if unknowable.

    A ``stream_results`` result prefetches one row at creation (its
    ``BufferedRowCursorFetchStrategy``); the wire reader starts after them.  Handing them
    back through ``fetchmany`` of exactly the buffered count does not touch the cursor.
    """
    buffered = getattr(getattr(result, "cursor_strategy", None), "_rowbuffer", None)
    if buffered is None:
        return None
    return [tuple(row) for row in result.fetchmany(len(buffered))] if buffered else []


def _abandon_stream(dbapi_cursor: Any) -> None:
    """Forget a half-read server-side result whose connection is about to be discarded.

    After a lost connection, pymysql leaves the unbuffered result marked active; the cursor's
    and result's destructors then try to drain the dead socket and print "Exception ignored"
    tracebacks.  The connection is invalidated right after, so nothing is left to drain.
    """
    result = getattr(dbapi_cursor, "_result", None)
    if result is not None and getattr(result, "unbuffered_active", False):
        result.unbuffered_active = False
    if dbapi_cursor is not None and hasattr(dbapi_cursor, "_result"):
        dbapi_cursor.connection = None


# --------------------------------------------------------------------------- scans
@dataclass(frozen=True)
class Keyset:
    """How a named query pages: result columns of the key ↔ the parameters they bind."""

    columns: tuple[str, ...]
    params: tuple[str, ...]
    start: tuple[Any, ...]


@dataclass
class _ScanState:
    after: tuple[Any, ...]
    pending: list[pa.RecordBatch] = field(default_factory=list)
    page_rows: int = 0
    done: bool = False


class _Lease:
    """One connection held for a scan, under the source-wide connection limit."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._conn: sa.Connection | None = None

    def connection(self) -> sa.Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def discard(self) -> None:
        """Drop the connection after an error (it may be dead or mid-result)."""
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except sa.exc.SQLAlchemyError:
                pass
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ReplicaClient:
    """Reads one wiki's replica.  Obtain from :meth:`ReplicaSource.client`."""

    def __init__(
        self,
        wiki: str,
        engine: sa.Engine,
        *,
        limiter: ConcurrencyLimiter,
        policy: ReplicaRetryPolicy,
        batch_rows: int,
        counters: ReplicaCounters,
        chunk_rows: int = CHUNK_ROWS,
        sleep: Callable[[float], None] = time.sleep,
        wire_decode: bool = True,
    ) -> None:
        self.wiki = check_wiki_name(wiki)
        self.wire_decode = wire_decode
        self.chunk_rows = max(1, chunk_rows)
        self.engine = engine
        self.limiter = limiter
        self.policy = policy
        self.batch_rows = max(1, batch_rows)
        self.counters = counters
        self._sleep = sleep
        self._schema: ReplicaSchema | None = None
        self._views_checked = False

    @property
    def where(self) -> str:
        return redacted(self.engine.url)

    # ------------------------------------------------------------------ plumbing
    def _before_sleep(self, lease: _Lease) -> Callable[[RetryCallState], None]:
        def hook(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.counters.add(retries=1)
            self.counters.last_error = f"{exc.__class__.__name__}: {db_error_code(exc) if exc else ''}"
            lease.discard()

        return hook

    def _retry(self, lease: _Lease, what: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` under the retry policy; typed errors naming the replica when it fails."""
        try:
            return self.policy.retrying(sleep=self._sleep, before_sleep=self._before_sleep(lease))(fn)
        except pa.ArrowInvalid as exc:
            raise SourceError(f"{what}: undecodable value (not UTF-8?): {exc}", url=self.where) from exc
        except Exception as exc:
            driver_error = _driver_error(exc)
            if driver_error is None:
                raise
            lease.discard()
            if self.policy.is_retryable(exc):
                raise RetriesExceeded(
                    f"{what}: gave up after {self.policy.max_attempts} attempts: {driver_error!r}", url=self.where
                ) from exc
            raise SourceError(f"{what}: {driver_error!r}", url=self.where) from exc

    @contextmanager
    def _leased(self) -> Iterator[_Lease]:
        with self.limiter.slot():
            lease = _Lease(self.engine)
            try:
                yield lease
            finally:
                lease.close()

    def _stream(self, result: sa.CursorResult[Any], key_columns: Sequence[str], chunk: int
                ) -> Iterator[tuple[pa.RecordBatch, tuple[Any, ...]]]:
        """``(batch, key of its last row)`` for each chunk of an executed streaming result.

        Decoded column-wise from the wire (:mod:`wikivis.sources.mysql_wire`) when the
        driver and the column types allow it, otherwise from the driver's rows, ``chunk``
        at a time (SQLite, DECIMAL/date columns, ``replica_wire_decode = false``).
        """
        keys = list(result.keys())
        positions = [keys.index(c) for c in key_columns]
        columns = wire_columns(result.cursor) if self.wire_decode else None
        head = _prefetched_rows(result) if columns is not None else None
        if columns is not None and head is not None:
            reader = WireReader(result.cursor, columns)
            first: pa.RecordBatch | None = reader.rows_batch(head)
            for raw in reader.batches():
                if first is not None:
                    raw, first = pa.concat_batches([first, raw]), None
                yield binary_as_text(raw), tuple(raw.column(i)[-1].as_py() for i in positions)
            if first is not None and first.num_rows:
                yield binary_as_text(first), tuple(first.column(i)[-1].as_py() for i in positions)
            result.close()
            return
        for rows in result.partitions(chunk):
            last = rows[-1]
            yield rows_to_batch(keys, rows), tuple(last[i] for i in positions)

    def _read_all(self, lease: _Lease, query: sa.TextClause, params: dict[str, Any]) -> pa.Table:
        """One (bounded) query's whole result as a table, streamed like the scans."""
        self.counters.add(queries=1)
        result = lease.connection().execution_options(stream_results=True).execute(query, params)
        keys = list(result.keys())
        try:
            batches = [batch for batch, _ in self._stream(result, (), self.chunk_rows)]
        except BaseException:
            _abandon_stream(result.cursor)
            raise
        return pa.Table.from_batches(batches) if batches else pa.Table.from_batches([rows_to_batch(keys, [])])

    def _fetch_page(self, lease: _Lease, query: sa.TextClause, keyset: Keyset, params: dict[str, Any],
                    state: _ScanState) -> None:
        """Read (the rest of) one bounded page into ``state``; resumable after any chunk."""
        limit = self.batch_rows - state.page_rows
        bound = {**params, **dict(zip(keyset.params, state.after, strict=True)), "limit": limit}
        conn = lease.connection()
        self.counters.add(queries=1)
        chunk = min(limit, self.chunk_rows)
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query, bound)
        dbapi_cursor = result.cursor
        got = 0
        try:
            for batch, last_key in self._stream(result, keyset.columns, chunk):
                state.pending.append(batch)
                state.after = last_key
                state.page_rows += batch.num_rows
                got += batch.num_rows
                self.counters.add(rows=batch.num_rows)
        except BaseException:
            _abandon_stream(dbapi_cursor)
            if got:
                self.counters.add(partial_resumes=1)
            raise
        if got < limit:
            state.done = True

    def scan(self, name: str, keyset: Keyset, params: dict[str, Any] | None = None,
             *, lease: _Lease | None = None) -> Iterator[pa.RecordBatch]:
        """Stream the named keyset query as RecordBatches (raw columns, text decoded)."""
        if lease is None:
            with self._leased() as held:
                yield from self.scan(name, keyset, params, lease=held)
            return
        query = load_query(name)
        state = _ScanState(after=keyset.start)
        while not state.done:
            state.page_rows = 0
            what = f"{self.wiki}: query {name} after {dict(zip(keyset.params, state.after, strict=True))}"
            self._retry(lease, what, lambda: self._fetch_page(lease, query, keyset, dict(params or {}), state))
            pending, state.pending = state.pending, []
            yield from pending

    def lookup(self, name: str, list_param: str, values: Iterable[Any], params: dict[str, Any] | None = None,
               *, lease: _Lease | None = None, **identifiers: str) -> pa.Table:
        """Run a named ``IN :list`` query over ``values`` in chunks; one Arrow table."""
        values = list(dict.fromkeys(values))
        if lease is None:
            with self._leased() as held:
                return self.lookup(name, list_param, values, params, lease=held, **identifiers)
        query = load_query(name, **identifiers)
        tables: list[pa.Table] = []
        for start in range(0, len(values), LOOKUP_CHUNK):
            bound = {**(params or {}), list_param: values[start : start + LOOKUP_CHUNK]}

            def run(bound: dict[str, Any] = bound) -> pa.Table:
                return self._read_all(lease, query, bound)

            tables.append(self._retry(lease, f"{self.wiki}: query {name}", run))
        if not tables:
            return pa.table({})
        found = [t for t in tables if t.num_rows]
        return pa.concat_tables(found) if found else tables[0]

    def _select(self, lease: _Lease, what: str, query: sa.TextClause, params: dict[str, Any]) -> list[Any]:
        def run() -> list[Any]:
            self.counters.add(queries=1)
            return list(lease.connection().execute(query, params).fetchall())

        return self._retry(lease, what, run)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ schema
    def detect_schema(self, *, check_views: bool = True, refresh: bool = False) -> ReplicaSchema:
        """Current or legacy link columns; raise :class:`LinktargetViewError` when the
        ``linktarget`` view hides the targets imagelinks/categorylinks use."""
        if refresh:
            self._schema, self._views_checked = None, False
        with self._leased() as lease:
            if self._schema is None:
                columns = {table: self._column_names(lease, table) for table in ("imagelinks", "categorylinks")}
                self._schema = ReplicaSchema(
                    imagelinks=_link_shape(columns["imagelinks"], "imagelinks", "il"),
                    categorylinks=_link_shape(columns["categorylinks"], "categorylinks", "cl"),
                    linktarget_is_view=self._is_view(lease, "linktarget"),
                )
            if check_views and not self._views_checked:
                for table, prefix in (("imagelinks", "il"), ("categorylinks", "cl")):
                    if getattr(self._schema, table) == "target_id":
                        self._check_linktarget_view(lease, table, prefix)
                self._views_checked = True
            return self._schema

    def _column_names(self, lease: _Lease, table: str) -> list[str]:
        query = load_query("columns_of", table=table)

        def run() -> list[str]:
            return list(lease.connection().execute(query).keys())

        return self._retry(lease, f"{self.wiki}: columns of {table}", run)  # type: ignore[no-any-return]

    def _is_view(self, lease: _Lease, name: str) -> bool:
        try:
            return name in sa.inspect(lease.connection()).get_view_names()
        except sa.exc.DBAPIError:
            return False  # informational only; the data probe below is what decides

    def _check_linktarget_view(self, lease: _Lease, table: str, prefix: str) -> None:
        sample = self._select(
            lease,
            f"{self.wiki}: probe {table}",
            load_query("link_target_sample", table=table, column=f"{prefix}_target_id", from_column=f"{prefix}_from"),
            {"limit": VIEW_PROBE_ROWS},
        )
        ids = sorted({row[0] for row in sample})
        if not ids:
            return
        visible = self.lookup("linktargets_by_id", "ids", ids, lease=lease)
        shown = set(visible.column("lt_id").to_pylist()) if visible.num_columns else set()
        missing = [i for i in ids if i not in shown]
        if missing:
            raise LinktargetViewError(
                f"{self.wiki}: the replica's linktarget view hides targets used by {table} "
                f"({len(missing)} of {len(ids)} sampled {prefix}_target_id values have no linktarget row, "
                f"e.g. {missing[:5]}); joining would silently drop them. Run on the analytics replica "
                f"host where the view is widened, use the SQL dumps instead (`wikivis dumps ingest`), "
                f"or ask WMCS to widen the linktarget view in maintain-views.yaml to targets used by "
                f"imagelinks/categorylinks.",
                url=self.where,
            )

    # ------------------------------------------------------------------ datasets
    def pages(self) -> Iterator[pa.RecordBatch]:
        """``pages`` dataset batches: every article (ns 0), redirects flagged."""
        target = dataset_schema("pages")
        for raw in self.scan("pages", Keyset(("page_id",), ("after_page",), (0,))):
            yield pa.RecordBatch.from_arrays(
                [
                    pa.repeat(pa.scalar(self.wiki, pa.string()), raw.num_rows),
                    raw.column("page_id").cast(pa.int64()),
                    raw.column("page_namespace").cast(pa.int32()),
                    raw.column("page_title").cast(pa.string()),
                    pc.not_equal(raw.column("page_is_redirect"), 0),
                ],
                schema=target,
            )

    def _target_keyset(self, table: str) -> Keyset:
        legacy = getattr(self.detect_schema(check_views=False), table) == "legacy"
        return Keyset(("page_id", "target_key"), ("after_page", "after_target"), (0, "" if legacy else 0))

    def lead_images(self, page_ids: Iterable[int], *, lease: _Lease | None = None) -> set[tuple[int, str]]:
        """(page_id, file_name) pairs that PageImages marks as a lead image."""
        table = self._lead_table(list(page_ids), lease=lease)
        return set(zip(table.column("page_id").to_pylist(), table.column("file_name").to_pylist(), strict=True))

    def _lead_table(self, page_ids: list[int], *, lease: _Lease | None = None) -> pa.Table:
        table = self.lookup("lead_images", "page_ids", page_ids, {"propnames": list(LEAD_IMAGE_PROPS)}, lease=lease)
        return table if table.num_rows else pa.table({"page_id": pa.array([], pa.int64()), "file_name": pa.array([], pa.string())})

    def _leads_in_range(self, lease: _Lease, first_page: int, last_page: int) -> pa.Table:
        query = load_query("lead_images_in_range")
        params = {"propnames": list(LEAD_IMAGE_PROPS), "first_page": first_page, "last_page": last_page}
        return self._retry(
            lease, f"{self.wiki}: query lead_images_in_range", lambda: self._read_all(lease, query, params)
        )

    def _article_image_batch(self, raw: pa.RecordBatch | pa.Table, leads: pa.Table) -> pa.RecordBatch:
        """Dataset batch; ``is_lead`` when (page_id, file_name) is one of ``leads``' rows."""
        page_id = raw.column("page_id").cast(pa.int64())
        file_name = raw.column("file_name").cast(pa.string())
        if leads.num_rows:
            lead_keys = _pair_keys(leads.column("page_id"), leads.column("file_name"))
            is_lead = pc.is_in(_pair_keys(page_id, file_name), value_set=lead_keys)
        else:
            is_lead = pa.repeat(pa.scalar(False), raw.num_rows)
        arrays = [
            pa.repeat(pa.scalar(self.wiki, pa.string()), raw.num_rows),
            page_id,
            raw.column("page_namespace").cast(pa.int32()),
            raw.column("page_title").cast(pa.string()),
            file_name,
            is_lead,
        ]
        arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays]
        return pa.RecordBatch.from_arrays(arrays, schema=dataset_schema("article_images"))

    def article_images(self) -> Iterator[pa.RecordBatch]:
        """``article_images`` batches: imagelinks ⋈ linktarget(ns 6) ⋈ page(ns 0) + lead flag.

        A batch covers a contiguous range of page ids, so its lead images come from one
        range read of page_props (on the same connection as the scan).
        """
        schema = self.detect_schema()
        keyset = self._target_keyset("imagelinks")
        with self._leased() as lease:
            for scanned in self.scan(schema.query("article_images"), keyset, lease=lease):
                raw = articles_only(scanned, NS_FILE)
                if raw.num_rows:
                    bounds = pc.min_max(raw.column("page_id"))
                    leads = self._leads_in_range(lease, bounds["min"].as_py(), bounds["max"].as_py())
                    yield self._article_image_batch(raw, leads)

    def images_of_pages(self, page_ids: Iterable[int]) -> pa.Table:
        """``article_images`` rows of the given articles (used by the event refresh)."""
        schema = self.detect_schema()
        ids = list(page_ids)
        with self._leased() as lease:
            raw = self.lookup(schema.query("images_of_pages"), "page_ids", ids, lease=lease)
            raw = articles_only(raw, NS_FILE) if raw.num_rows else raw
            if not raw.num_rows:
                return dataset_schema("article_images").empty_table()
            leads = self._lead_table(ids, lease=lease)
            return pa.Table.from_batches([self._article_image_batch(raw, leads)])

    def article_categories(self) -> Iterator[pa.RecordBatch]:
        """``article_categories`` batches: categorylinks ⋈ linktarget(ns 14) ⋈ page(ns 0)."""
        schema = self.detect_schema()
        target = dataset_schema("article_categories")
        for scanned in self.scan(schema.query("article_categories"), self._target_keyset("categorylinks")):
            raw = articles_only(scanned, NS_CATEGORY)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.repeat(pa.scalar(self.wiki, pa.string()), raw.num_rows),
                    raw.column("page_id").cast(pa.int64()),
                    raw.column("category").cast(pa.string()),
                ],
                schema=target,
            )

    def article_items(self) -> Iterator[pa.RecordBatch]:
        """``article_items`` batches: ``page_props.wikibase_item`` of non-redirect articles
        (values not shaped like a Q-id are dropped, as in the dump path)."""
        target = dataset_schema("article_items")
        for raw in self.scan("article_items", Keyset(("page_id",), ("after_page",), (0,)), {"propname": "wikibase_item"}):
            values = raw.column("item").cast(pa.binary())
            kept = raw.filter(pc.match_substring_regex(values, ITEM_PATTERN))
            yield pa.RecordBatch.from_arrays(
                [
                    pa.repeat(pa.scalar(self.wiki, pa.string()), kept.num_rows),
                    kept.column("page_id").cast(pa.int64()),
                    kept.column("item").cast(pa.binary()).cast(pa.string()),
                ],
                schema=target,
            )

    def images_of_article(self, title: str, namespace: int = 0) -> list[dict[str, Any]]:
        """The tutorial's Quarry query: files used by one article, with its lead flags
        (current link schema; ``title`` as shown or as DB key)."""
        key = title.strip().replace(" ", "_")
        key = key[:1].upper() + key[1:]
        query = load_query("images_of_article")
        params = {"namespace": namespace, "title": key, "propname_image": "page_image",
                  "propname_free": "page_image_free"}
        with self._leased() as lease:
            rows = self._select(lease, f"{self.wiki}: query images_of_article", query, params)
        out = []
        for page_id, file_name, lead, lead_free in rows:
            name = file_name.decode("utf-8", "replace") if isinstance(file_name, bytes) else str(file_name)
            out.append({"page_id": int(page_id), "file_name": name, "is_lead": bool(lead), "is_lead_free": bool(lead_free)})
        return out

    def _file_batch(self, raw: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
        arrays = [
            pa.repeat(pa.scalar(self.wiki, pa.string()), raw.num_rows),
            raw.column("img_name").cast(pa.string()),
            raw.column("img_size").cast(pa.int64()),
            raw.column("img_width").cast(pa.int32()),
            raw.column("img_height").cast(pa.int32()),
            raw.column("img_media_type").cast(pa.string()),
            pc.binary_join_element_wise(
                raw.column("img_major_mime").cast(pa.string()), raw.column("img_minor_mime").cast(pa.string()), "/"
            ),
            pa.array([base36_to_hex(v or "") for v in _column(raw, "img_sha1")], pa.string()),
            raw.column("img_timestamp").cast(pa.string()),
        ]
        arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays]
        return pa.RecordBatch.from_arrays(arrays, schema=dataset_schema("files"))

    def files(self) -> Iterator[pa.RecordBatch]:
        """``files`` batches: this (file) wiki's whole ``image`` table, by name."""
        for raw in self.scan("files", Keyset(("img_name",), ("after_name",), ("",))):
            yield self._file_batch(raw)

    def files_by_name(self, names: Iterable[str]) -> Iterator[pa.RecordBatch]:
        """``files`` batches for the given file names (the application-side cross-wiki join)."""
        names = sorted(set(names))
        with self._leased() as lease:
            for start in range(0, len(names), self.batch_rows):
                raw = self.lookup("files_by_name", "names", names[start : start + self.batch_rows], lease=lease)
                if raw.num_rows:
                    yield self._file_batch(raw)


class ReplicaSource:
    """Engines (one per wiki) and the connection budget shared by all of them.

    ``engine_factory(wiki)`` injects engines (tests, an Airflow hook); otherwise engines are
    built from :func:`replica_url`.  Engines built here are disposed by :meth:`close`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine_factory: EngineFactory | None = None,
        policy: ReplicaRetryPolicy | None = None,
        batch_rows: int | None = None,
        chunk_rows: int = CHUNK_ROWS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.chunk_rows = chunk_rows
        self.policy = policy or ReplicaRetryPolicy()
        self.batch_rows = batch_rows or settings.replica_batch_rows
        self.limiter = ConcurrencyLimiter(settings.replica_max_connections)
        self.counters = ReplicaCounters()
        self._factory = engine_factory
        self._sleep = sleep
        self._engines: dict[str, sa.Engine] = {}
        self._owned: set[str] = set()
        self._lock = threading.Lock()

    def engine(self, wiki: str) -> sa.Engine:
        check_wiki_name(wiki)
        with self._lock:
            if wiki not in self._engines:
                if self._factory is not None:
                    engine = self._factory(wiki)
                    install_session_settings(engine, self.settings.replica_statement_timeout_s)
                else:
                    engine = create_replica_engine(
                        replica_url(self.settings, wiki),
                        max_connections=self.settings.replica_max_connections,
                        statement_timeout_s=self.settings.replica_statement_timeout_s,
                    )
                    self._owned.add(wiki)
                self._engines[wiki] = engine
            return self._engines[wiki]

    def client(self, wiki: str) -> ReplicaClient:
        return ReplicaClient(
            wiki,
            self.engine(wiki),
            limiter=self.limiter,
            policy=self.policy,
            batch_rows=self.batch_rows,
            counters=self.counters,
            chunk_rows=self.chunk_rows,
            sleep=self._sleep,
            wire_decode=self.settings.replica_wire_decode,
        )

    def close(self) -> None:
        with self._lock:
            for wiki in self._owned:
                self._engines[wiki].dispose()
            self._engines.clear()
            self._owned.clear()

    def __enter__(self) -> ReplicaSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
