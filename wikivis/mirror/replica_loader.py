"""Load MediaWiki tables (the sample wiki's, or any rows) into a local Wiki Replica stand-in.

The replica path of wikivis is tested against a *real* MariaDB on loopback (and against
SQLite, the embedded default), holding the same tables the Wiki Replicas expose:

* MariaDB: database ``<db_prefix><wiki>_p`` on the server ``url`` names, created with
  ``CREATE DATABASE IF NOT EXISTS`` (tests pass a unique ``db_prefix`` such as
  ``wvtest_<hex>_`` so parallel runs never collide, and drop it with :func:`drop_replica`).
* SQLite: the file ``url`` names (e.g. ``Settings.replica_url(wiki)``).

The DDL is the generated file under ``sql/schema/`` (see
:mod:`wikivis.sources.replica_schema`), so the loader and the dump parser agree on columns.
Rows are inserted with ``executemany`` in batches.  Reloading replaces the tables.

Two switches reproduce replicas the client must cope with:

* ``legacy=True`` — the pre-linktarget schema: ``imagelinks.il_to`` / ``categorylinks.cl_to``
  (+ ``cl_collation``) filled from the current rows' link targets.
* ``hide_imagelinks_only_linktargets=True`` — the 2024 ``linktarget`` *view* of
  maintain-views.yaml, which shows only targets used by templatelinks/pagelinks: the base
  table becomes ``linktarget_all`` and ``linktarget`` a view over it
  (``sql/schema/linktarget_view.sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from wikivis.config import check_wiki_name
from wikivis.errors import ConfigError, InputError
from wikivis.sources.replica_schema import CURRENT, LEGACY, SCHEMA_DIR, schema_file, split_statements
from wikivis.vocab import NAME_RE, NS_CATEGORY, NS_FILE

VIEW_FILE = SCHEMA_DIR / "linktarget_view.sql"
#: the collation name legacy categorylinks rows carry (cl_collation, dropped in 1.45)
LEGACY_COLLATION = "uppercase"


Rows = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class LoadedReplica:
    """Where a replica was loaded and what it holds."""

    url: str  #: SQLAlchemy URL of the loaded database (password included: loopback use only)
    wiki: str
    database: str | None  #: MariaDB database name; None for SQLite
    legacy: bool
    hides_imagelinks_only_linktargets: bool
    rows: dict[str, int] = field(default_factory=dict)


def replica_database_name(wiki: str, db_prefix: str = "") -> str:
    """``<db_prefix><wiki>_p`` after allow-list checks of both parts."""
    check_wiki_name(wiki)
    if db_prefix and not (len(db_prefix) <= 31 and NAME_RE.fullmatch(db_prefix)):
        raise ConfigError(f"invalid database prefix {db_prefix!r} (lower-case letters, digits, _)")
    return f"{db_prefix}{wiki}_p"


def _target_url(url: str, wiki: str, db_prefix: str) -> tuple[sa.URL, str | None]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ConfigError("load_replica needs an SQLite *file* URL (an in-memory database dies with its engine)")
        return parsed, None
    if parsed.get_backend_name() not in ("mysql", "mariadb"):
        raise ConfigError(f"load_replica supports MariaDB/MySQL and SQLite, not {parsed.get_backend_name()!r}")
    database = replica_database_name(wiki, db_prefix)
    server = sa.create_engine(parsed)
    try:
        with server.begin() as conn:
            quoted = server.dialect.identifier_preparer.quote_identifier(database)
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {quoted}")
    finally:
        server.dispose()
    return parsed.set(database=database), database


def _legacy_tables(tables: Mapping[str, Rows]) -> dict[str, list[dict[str, Any]]]:
    """Rewrite current-schema rows into the legacy shape (titles instead of target ids)."""
    targets = {row["lt_id"]: (row["lt_namespace"], row["lt_title"]) for row in tables.get("linktarget", ())}

    def title(target_id: int, namespace: int, table: str) -> str:
        found = targets.get(target_id)
        if found is None or found[0] != namespace:
            raise InputError(f"{table} row points at linktarget {target_id}, which is not a namespace-{namespace} target",
                             source=table)
        return str(found[1])

    out = {name: [dict(r) for r in rows] for name, rows in tables.items()}
    for row in out.get("imagelinks", ()):
        row["il_to"] = title(row.pop("il_target_id"), NS_FILE, "imagelinks")
    for row in out.get("categorylinks", ()):
        row["cl_to"] = title(row.pop("cl_target_id"), NS_CATEGORY, "categorylinks")
        row.pop("cl_collation_id", None)
        row["cl_collation"] = LEGACY_COLLATION
    return out


def _normalise(table: sa.Table, rows: Rows, *, sqlite: bool) -> list[dict[str, Any]]:
    """Check column names; text for SQLite's TEXT columns, UTF-8 bytes for MariaDB's VARBINARY."""
    known = set(table.columns.keys())
    binary = {c.name for c in table.columns if c.type.python_type is bytes}
    out = []
    for index, row in enumerate(rows):
        unknown = set(row) - known
        if unknown:
            raise InputError(f"unknown columns {sorted(unknown)} for table {table.name}", source=table.name, line=index + 1)
        try:
            if sqlite:  # TEXT columns: store text, never BLOBs (a BLOB never equals a text parameter)
                out.append({k: v.decode("utf-8") if isinstance(v, bytes) else v for k, v in row.items()})
            else:
                out.append({k: v.encode("utf-8") if k in binary and isinstance(v, str) else v for k, v in row.items()})
        except UnicodeError as exc:
            raise InputError(f"{table.name}: text is not UTF-8: {exc}", source=table.name, line=index + 1) from exc
    return out


def _drop_existing(conn: sa.Connection, metadata: sa.MetaData) -> None:
    inspector = sa.inspect(conn)
    ours = {*metadata.tables, "linktarget_all"}
    preparer = conn.dialect.identifier_preparer
    for view in inspector.get_view_names():
        if view in ours:
            conn.exec_driver_sql(f"DROP VIEW {preparer.quote_identifier(view)}")
    for table in inspector.get_table_names():
        if table in ours:
            conn.exec_driver_sql(f"DROP TABLE {preparer.quote_identifier(table)}")


def execute_script(conn: sa.Connection, path: Path) -> None:
    for statement in split_statements(path.read_text(encoding="utf-8")):
        conn.exec_driver_sql(statement)


def load_replica(
    sample_state_tables: Mapping[str, Rows],
    url: str,
    wiki: str,
    *,
    hide_imagelinks_only_linktargets: bool = False,
    legacy: bool = False,
    db_prefix: str = "",
    batch_rows: int = 2000,
) -> LoadedReplica:
    """Create the MediaWiki schema for ``wiki`` at ``url`` and fill it with the given rows.

    ``sample_state_tables`` maps table names (``page``, ``linktarget``, ``imagelinks``,
    ``page_props``, ``categorylinks``, ``pagelinks``, ``templatelinks``, ``image``) to rows as
    dicts with current MediaWiki column names, e.g. ``SampleWiki.state(day).tables_for(wiki)``.
    An unknown table or column is an :class:`InputError`.
    """
    metadata = LEGACY if legacy else CURRENT
    unknown = set(sample_state_tables) - set(metadata.tables)
    if unknown:
        raise InputError(f"no such replica table(s) {sorted(unknown)}; known: {', '.join(sorted(metadata.tables))}")
    target, database = _target_url(url, wiki, db_prefix)
    check_wiki_name(wiki)
    tables = _legacy_tables(sample_state_tables) if legacy else sample_state_tables
    dialect = "sqlite" if target.get_backend_name() == "sqlite" else "mysql"
    if dialect == "sqlite" and target.database:
        Path(target.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(target)
    counts: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            if dialect == "sqlite":
                # pysqlite commits each DDL statement on its own; without fsyncs a load takes
                # milliseconds instead of a second (a crashed load is simply reloaded)
                conn.exec_driver_sql("PRAGMA synchronous = OFF")
            _drop_existing(conn, metadata)
            execute_script(conn, schema_file(dialect, legacy=legacy))
            for name, rows in tables.items():
                table = metadata.tables[name]
                normalised = _normalise(table, rows, sqlite=dialect == "sqlite")
                for start in range(0, len(normalised), batch_rows):
                    try:
                        conn.execute(table.insert(), normalised[start : start + batch_rows])
                    except sa.exc.StatementError as exc:
                        raise InputError(f"cannot insert rows into {name}: {exc.orig!r}", source=name,
                                         line=start + 1) from exc
                counts[name] = len(normalised)
            if hide_imagelinks_only_linktargets:
                execute_script(conn, VIEW_FILE)
    finally:
        engine.dispose()
    return LoadedReplica(
        url=target.render_as_string(hide_password=False),
        wiki=wiki,
        database=database,
        legacy=legacy,
        hides_imagelinks_only_linktargets=hide_imagelinks_only_linktargets,
        rows=counts,
    )


def drop_replica(loaded: LoadedReplica) -> None:
    """Remove a loaded replica (the MariaDB database, or the SQLite file)."""
    url = make_url(loaded.url)
    if loaded.database is None:
        if url.database:
            Path(url.database).unlink(missing_ok=True)
        return
    server = sa.URL.create(url.drivername, url.username, url.password, url.host, url.port, query=url.query)
    engine = sa.create_engine(server)
    try:
        with engine.begin() as conn:
            prefix = loaded.database.removesuffix(f"{loaded.wiki}_p")
            quoted = engine.dialect.identifier_preparer.quote_identifier(replica_database_name(loaded.wiki, prefix))
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
    finally:
        engine.dispose()


def load_sample_replicas(
    wiki_tables: Mapping[str, Mapping[str, Rows]], url_for: Callable[[str], str], **options: Any
) -> dict[str, LoadedReplica]:
    """Load every wiki of a sample state (``WikiState.wiki_tables``); ``url_for(wiki)`` gives
    each wiki's target URL (e.g. ``settings.replica_url``)."""
    return {wiki: load_replica(tables, url_for(wiki), wiki, **options) for wiki, tables in wiki_tables.items()}
