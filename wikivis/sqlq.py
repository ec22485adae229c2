"""Named SQL queries: ``sql/queries/<name>.sql`` → a SQLAlchemy ``TextClause``.

Queries live in files, not in Python strings, so they can be read, reviewed and run by hand
(``mariadb … < sql/queries/pages.sql`` after substituting the parameters).  Every value is a
*bound* parameter (``:after_page``, ``:limit``); a title such as ``Robert'); DROP TABLE
page;--`` is data, never SQL.  A file declares its parameters in header comments::

    -- params: page_ids, propnames          (documentation)
    -- expanding: page_ids, propnames       (lists bound as ``IN :page_ids``)
    -- identifiers: table = imagelinks | categorylinks; column = il_target_id | cl_target_id

Identifiers (table/column names) cannot be bound, so a query that needs one writes
``{table}`` and declares the allowed values; :func:`load_query` substitutes a value only
after :func:`check_identifier` has found it in that allow-list.

Queries are written in the SQL common to MariaDB and SQLite (no backticks, no
``STRAIGHT_JOIN``, no row-value comparisons, ``LIMIT`` without ``OFFSET``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from wikivis.errors import ConfigError, NotFoundError
from wikivis.vocab import NAME_RE

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
QUERY_DIR = SQL_DIR / "queries"

_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PLACEHOLDER_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_HEADER_RE = re.compile(r"^--\s*(params|expanding|identifiers)\s*:(.*)$")


@dataclass(frozen=True)
class NamedQuery:
    """One parsed query file."""

    name: str
    path: Path
    sql: str
    description: str
    params: tuple[str, ...] = ()
    expanding: tuple[str, ...] = ()
    identifiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def check_identifier(name: str, allowed: Iterable[str]) -> str:
    """Return ``name`` when it is a plain SQL identifier *and* in ``allowed``; else raise."""
    allowed = tuple(allowed)
    if not isinstance(name, str) or not _IDENTIFIER_RE.fullmatch(name) or name not in allowed:
        raise ConfigError(f"identifier {name!r} is not allowed here (allowed: {', '.join(allowed) or 'none'})")
    return name


def query_names() -> list[str]:
    """Every named query shipped in ``sql/queries``."""
    return sorted(p.stem for p in QUERY_DIR.glob("*.sql"))


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@cache
def named_query(name: str) -> NamedQuery:
    """Read and parse ``sql/queries/<name>.sql`` (cached)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise NotFoundError(f"invalid query name {name!r}")
    path = QUERY_DIR / f"{name}.sql"
    if not path.is_file():
        known = ", ".join(query_names()) or f"none: {QUERY_DIR} is missing"
        raise NotFoundError(f"no named query {name!r} in {QUERY_DIR} (known: {known})")
    text = path.read_text(encoding="utf-8")
    description: list[str] = []
    headers: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not body and stripped.startswith("--"):
            match = _HEADER_RE.match(stripped)
            if match:
                headers[match.group(1)] = match.group(2).strip()
            else:
                description.append(stripped.removeprefix("--").strip())
        elif stripped or body:
            body.append(line)
    identifiers: dict[str, tuple[str, ...]] = {}
    for clause in filter(None, (c.strip() for c in headers.get("identifiers", "").split(";"))):
        key, _, values = clause.partition("=")
        identifiers[key.strip()] = tuple(v.strip() for v in values.split("|") if v.strip())
    sql = "\n".join(body).strip().rstrip(";")
    undeclared = set(_PLACEHOLDER_RE.findall(sql)) - set(identifiers)
    if undeclared:
        raise ConfigError(f"{path}: placeholders {sorted(undeclared)} have no '-- identifiers:' allow-list")
    return NamedQuery(
        name=name,
        path=path,
        sql=sql,
        description=" ".join(description),
        params=_split_list(headers.get("params", "")),
        expanding=_split_list(headers.get("expanding", "")),
        identifiers=identifiers,
    )


def load_query(name: str, **identifiers: str) -> sa.TextClause:
    """The named query as a ``TextClause`` with its expanding parameters declared.

    ``identifiers`` fill the ``{placeholder}`` names the file declares; each value must be in
    that placeholder's allow-list.  Results are cached per (name, identifiers).
    """
    return _compiled(name, tuple(sorted(identifiers.items())))


@cache
def _compiled(name: str, identifiers: tuple[tuple[str, str], ...]) -> sa.TextClause:
    query = named_query(name)
    given = dict(identifiers)
    unknown = set(given) - set(query.identifiers)
    if unknown:
        raise ConfigError(f"query {name!r} has no identifier placeholders {sorted(unknown)}")
    missing = set(query.identifiers) - set(given)
    if missing:
        raise ConfigError(f"query {name!r} needs identifiers {sorted(missing)}")
    checked = {key: check_identifier(value, query.identifiers[key]) for key, value in given.items()}
    sql = _PLACEHOLDER_RE.sub(lambda m: checked[m.group(1)], query.sql)
    clause = sa.text(sql)
    if query.expanding:
        clause = clause.bindparams(*(sa.bindparam(p, expanding=True) for p in query.expanding))
    return clause
