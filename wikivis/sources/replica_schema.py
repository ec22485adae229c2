"""The MediaWiki tables wikivis reads, defined once, compiled to MariaDB and SQLite DDL.

MediaWiki itself keeps one abstract schema (``sql/tables.json``) and *generates*
``sql/mysql/tables-generated.sql`` and ``sql/sqlite/tables-generated.sql`` from it.  We do the
same at our scale: the SQLAlchemy Core tables below are the single source, and
``python -m wikivis.sources.replica_schema`` writes the checked-in files under ``sql/schema/``
(a unit test fails when they drift).  The loader executes those files; the replica client
only *reads* the schema, by name.

Two variants:

* :data:`CURRENT` — core master after ``patch-imagelinks-drop-il_to`` (MW 1.46 cycle):
  ``imagelinks.il_target_id`` and ``categorylinks.cl_target_id`` → ``linktarget``; no
  ``il_to``, no ``cl_to``/``cl_collation`` (dropped in 1.45).
* :data:`LEGACY` — the pre-linktarget shape (``il_to``, ``cl_to``, ``cl_collation``) still
  seen on older replicas and dumps; kept for schema-detection tests and old snapshots.

Column order is the *physical* order of Wikimedia production (ALTER history), which is what
dumps write: e.g. ``cl_target_id`` is the last column of categorylinks.  Titles and other
text are VARBINARY holding UTF-8 (``DEFAULT CHARSET=binary``), which pymysql returns as
``bytes``; on SQLite they are TEXT, returned as ``str``.  Both engines compare them bytewise
(SQLite's default BINARY collation is memcmp over UTF-8), so keyset pagination on titles
orders rows identically, and ``str`` parameters work on both (MariaDB compares a character
literal with a binary column as binary).  The client decodes ``bytes`` once, per column.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"

#: ENUM values of the current schema (tables-generated.sql)
CL_TYPES = ("page", "subcat", "file")
MEDIA_TYPES = (
    "UNKNOWN", "BITMAP", "DRAWING", "AUDIO", "VIDEO", "MULTIMEDIA", "OFFICE", "TEXT", "EXECUTABLE", "ARCHIVE", "3D",
)
MAJOR_MIMES = ("unknown", "application", "audio", "image", "text", "video", "message", "model", "multipart", "chemical")



# --------------------------------------------------------------------------- column types
# Each helper gives the MediaWiki MariaDB type, with the SQLite type as a variant.
def _int(unsigned: bool = True) -> sa.types.TypeEngine[Any]:
    return mysql.INTEGER(unsigned=unsigned).with_variant(sa.Integer(), "sqlite")


def _bigint() -> sa.types.TypeEngine[Any]:
    return mysql.BIGINT(unsigned=True).with_variant(sa.Integer(), "sqlite")


def _smallint() -> sa.types.TypeEngine[Any]:
    return mysql.SMALLINT(unsigned=True).with_variant(sa.Integer(), "sqlite")


def _tinyint() -> sa.types.TypeEngine[Any]:
    return mysql.TINYINT(unsigned=True).with_variant(sa.Integer(), "sqlite")


def _varbinary(length: int) -> sa.types.TypeEngine[Any]:
    return mysql.VARBINARY(length).with_variant(sa.Text(), "sqlite")


def _binary(length: int) -> sa.types.TypeEngine[Any]:
    return mysql.BINARY(length).with_variant(sa.Text(), "sqlite")


def _blob(medium: bool = False) -> sa.types.TypeEngine[Any]:
    return (mysql.MEDIUMBLOB() if medium else mysql.BLOB()).with_variant(sa.Text(), "sqlite")


def _enum(*values: str) -> sa.types.TypeEngine[Any]:
    return mysql.ENUM(*values).with_variant(sa.Text(), "sqlite")


def _double() -> sa.types.TypeEngine[Any]:
    return mysql.DOUBLE(unsigned=True).with_variant(sa.Float(), "sqlite")


def _float() -> sa.types.TypeEngine[Any]:
    return mysql.FLOAT().with_variant(sa.Float(), "sqlite")


def _timestamp() -> sa.types.TypeEngine[Any]:
    return mysql.TIMESTAMP().with_variant(sa.Text(), "sqlite")


def _col(name: str, type_: sa.types.TypeEngine[Any], *, default: object = None, nullable: bool = False) -> sa.Column[Any]:
    """A NOT NULL column (MediaWiki's default) with an optional literal server default."""
    server_default = None
    if default is not None:
        server_default = sa.text(repr(default)) if isinstance(default, (int, float)) else sa.text(f"'{default}'")
    return sa.Column(name, type_, nullable=nullable, server_default=server_default, autoincrement=False)


# --------------------------------------------------------------------------- tables
def _table(name: str, md: sa.MetaData, *items: sa.schema.SchemaItem) -> sa.Table:
    """A table with the options of every Wikimedia table ($wgDBTableOptions)."""
    return sa.Table(name, md, *items, mysql_engine="InnoDB", mysql_charset="binary")


def _page(md: sa.MetaData) -> sa.Table:
    return _table(
        "page", md,
        sa.Column("page_id", _int(), primary_key=True, autoincrement=True),
        _col("page_namespace", _int(unsigned=False)),
        _col("page_title", _varbinary(255)),
        _col("page_is_redirect", _tinyint(), default=0),
        _col("page_is_new", _tinyint(), default=0),
        _col("page_random", _double()),
        _col("page_touched", _binary(14)),
        _col("page_links_updated", _binary(14), nullable=True),
        _col("page_latest", _int()),
        _col("page_len", _int()),
        _col("page_content_model", _varbinary(32), nullable=True),
        _col("page_lang", _varbinary(35), nullable=True),
        sa.Index("page_name_title", "page_namespace", "page_title", unique=True),
        sa.Index("page_random", "page_random"),
        sa.Index("page_len", "page_len"),
        sa.Index("page_redirect_namespace_len", "page_is_redirect", "page_namespace", "page_len"),
    )


def _linktarget(md: sa.MetaData) -> sa.Table:
    return _table(
        "linktarget", md,
        sa.Column("lt_id", _bigint(), primary_key=True, autoincrement=True),
        _col("lt_namespace", _int(unsigned=False)),
        _col("lt_title", _varbinary(255)),
        sa.Index("lt_namespace_title", "lt_namespace", "lt_title", unique=True),
    )


def _imagelinks(md: sa.MetaData, *, legacy: bool) -> sa.Table:
    target = _col("il_to", _varbinary(255), default="") if legacy else _col("il_target_id", _bigint())
    key = "il_to" if legacy else "il_target_id"
    indexes = (
        [sa.Index("il_to", "il_to", "il_from"), sa.Index("il_backlinks_namespace", "il_from_namespace", "il_to", "il_from")]
        if legacy
        else [
            sa.Index("il_target_id", "il_target_id", "il_from"),
            sa.Index("il_backlinks_namespace_target_id", "il_from_namespace", "il_target_id", "il_from"),
        ]
    )
    return _table(
        "imagelinks", md,
        _col("il_from", _int(), default=0),
        _col("il_from_namespace", _int(unsigned=False), default=0),
        target,
        sa.PrimaryKeyConstraint("il_from", key),
        *indexes,
    )


def _page_props(md: sa.MetaData) -> sa.Table:
    return _table(
        "page_props", md,
        _col("pp_page", _int()),
        _col("pp_propname", _varbinary(60)),
        _col("pp_value", _blob()),
        _col("pp_sortkey", _float(), nullable=True),
        sa.PrimaryKeyConstraint("pp_page", "pp_propname"),
        sa.Index("pp_propname_page", "pp_propname", "pp_page", unique=True),
        sa.Index("pp_propname_sortkey_page", "pp_propname", "pp_sortkey", "pp_page", unique=True),
    )


def _categorylinks(md: sa.MetaData, *, legacy: bool) -> sa.Table:
    common = [
        _col("cl_from", _int(), default=0),
        *([_col("cl_to", _varbinary(255), default="")] if legacy else []),
        _col("cl_sortkey", _varbinary(230), default=""),
        _col("cl_timestamp", _timestamp()),
        _col("cl_sortkey_prefix", _varbinary(255), default=""),
        *([_col("cl_collation", _varbinary(32), default="")] if legacy else []),
        _col("cl_type", _enum(*CL_TYPES), default="page"),
    ]
    if legacy:
        specific = [
            sa.PrimaryKeyConstraint("cl_from", "cl_to"),
            sa.Index("cl_sortkey", "cl_to", "cl_type", "cl_sortkey", "cl_from"),
            sa.Index("cl_timestamp", "cl_to", "cl_timestamp"),
        ]
    else:
        specific = [
            _col("cl_collation_id", _smallint(), default=0),
            _col("cl_target_id", _bigint()),
            sa.PrimaryKeyConstraint("cl_from", "cl_target_id"),
            sa.Index("cl_sortkey_id", "cl_target_id", "cl_type", "cl_sortkey", "cl_from"),
            sa.Index("cl_timestamp_id", "cl_target_id", "cl_timestamp"),
        ]
    return _table("categorylinks", md, *common, *specific)


def _target_links(md: sa.MetaData, name: str, prefix: str) -> sa.Table:
    """pagelinks / templatelinks: only needed so the replica ``linktarget`` view has its inputs."""
    return _table(
        name, md,
        _col(f"{prefix}_from", _int(), default=0),
        _col(f"{prefix}_target_id", _bigint()),
        _col(f"{prefix}_from_namespace", _int(unsigned=False), default=0),
        sa.PrimaryKeyConstraint(f"{prefix}_from", f"{prefix}_target_id"),
        sa.Index(f"{prefix}_target_id", f"{prefix}_target_id", f"{prefix}_from"),
    )


def _image(md: sa.MetaData) -> sa.Table:
    return _table(
        "image", md,
        _col("img_name", _varbinary(255), default=""),
        _col("img_size", _bigint(), default=0),
        _col("img_width", _int(unsigned=False), default=0),
        _col("img_height", _int(unsigned=False), default=0),
        _col("img_metadata", _blob(medium=True)),
        _col("img_bits", _int(unsigned=False), default=0),
        _col("img_media_type", _enum(*MEDIA_TYPES), nullable=True),
        _col("img_major_mime", _enum(*MAJOR_MIMES), default="unknown"),
        _col("img_minor_mime", _varbinary(100), default="unknown"),
        _col("img_description_id", _bigint()),
        _col("img_actor", _bigint()),
        _col("img_timestamp", _binary(14)),
        _col("img_sha1", _varbinary(32), default=""),
        sa.PrimaryKeyConstraint("img_name"),
        sa.Index("img_actor_timestamp", "img_actor", "img_timestamp"),
        sa.Index("img_size", "img_size"),
        sa.Index("img_timestamp", "img_timestamp"),
        sa.Index("img_sha1", "img_sha1", mysql_length=10),
        sa.Index("img_media_mime", "img_media_type", "img_major_mime", "img_minor_mime"),
    )


def build_metadata(*, legacy: bool = False) -> sa.MetaData:
    md = sa.MetaData()
    _page(md)
    _linktarget(md)
    _imagelinks(md, legacy=legacy)
    _page_props(md)
    _categorylinks(md, legacy=legacy)
    _target_links(md, "pagelinks", "pl")
    _target_links(md, "templatelinks", "tl")
    _image(md)
    return md


CURRENT = build_metadata()
LEGACY = build_metadata(legacy=True)

#: dialect name → (file suffix, SQLAlchemy dialect)
DIALECTS = {"mysql": ("sql", mysql.dialect()), "sqlite": ("sqlite.sql", sqlite.dialect())}


def schema_file(dialect: str, *, legacy: bool = False) -> Path:
    """``sql/schema/mediawiki[_legacy].sql`` (MariaDB) or ``….sqlite.sql``."""
    if dialect not in DIALECTS:
        raise ValueError(f"no DDL for dialect {dialect!r}; known: {', '.join(DIALECTS)}")
    suffix = DIALECTS[dialect][0]
    return SCHEMA_DIR / f"mediawiki{'_legacy' if legacy else ''}.{suffix}"


def render_ddl(dialect: str, *, legacy: bool = False) -> str:
    """The CREATE TABLE / CREATE INDEX script of one variant for one dialect."""
    compiler_dialect = DIALECTS[dialect][1]
    md = LEGACY if legacy else CURRENT
    variant = "legacy (il_to, cl_to)" if legacy else "current (il_target_id, cl_target_id → linktarget)"
    lines = [
        f"-- MediaWiki tables read by wikivis: {variant} schema, {dialect} dialect.",
        "-- GENERATED by `python -m wikivis.sources.replica_schema` from wikivis/sources/replica_schema.py;",
        "-- do not edit by hand.",
        "",
    ]
    for table in md.sorted_tables:
        create = str(CreateTable(table).compile(dialect=compiler_dialect)).strip()
        lines.append("\n".join(line.rstrip() for line in create.splitlines()) + ";")
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            lines.append(str(CreateIndex(index).compile(dialect=compiler_dialect)).strip() + ";")
        lines.append("")
    return "\n".join(lines)


def split_statements(script: str) -> list[str]:
    """Split a generated script into statements (generated DDL has no ``;`` inside literals)."""
    body = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def write_schema_files(target: Path = SCHEMA_DIR) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for dialect in DIALECTS:
        for legacy in (False, True):
            path = target / schema_file(dialect, legacy=legacy).name
            path.write_text(render_ddl(dialect, legacy=legacy), encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - developer tool
    for written_path in write_schema_files():
        sys.stdout.write(f"wrote {written_path}\n")
