"""Write MediaWiki tables as ``mysqldump``/``mariadb-dump`` SQL files, byte for byte.

Wikimedia builds table dumps with ``mysqldump --opt --quick --skip-add-locks
--skip-lock-tables <db> <table> | gzip`` (operations-dumps ``build_sqldump_command``), so a
file is: the dump header, ``DROP TABLE IF EXISTS``, ``CREATE TABLE`` (columns in the
production table's *physical* order), ``ALTER TABLE … DISABLE KEYS``, extended INSERTs,
``ENABLE KEYS`` and the trailer.  Two styles exist in the wild and parsers must read both:

* ``mariadb`` — current ``mariadb-dump`` (10.11+): the first line is
  ``/*M!999999\\- enable the sandbox mode */`` and each INSERT lists one row per line
  (``INSERT INTO `t` VALUES\\n(…),\\n(…);``).
* ``mysqldump`` — the classic format: one very long line per INSERT
  (``INSERT INTO `t` VALUES (…),(…);``), header ``-- MySQL dump 10.16 …``.

Strings are escaped like ``mysql_real_escape_string`` (``\\0 \\n \\r \\\\ \\' \\" \\Z``),
text is written as UTF-8 bytes (tables are ``CHARSET=binary``), NULL is bare, numbers are
unquoted, and a new INSERT starts when one would exceed ``max_statement_bytes`` (like
``net_buffer_length``).  ``tests/integration/mirror/test_dumpwriter_mariadb.py`` compares
the output with real ``mariadb-dump`` on the loopback server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Style = Literal["mariadb", "mysqldump"]


@dataclass(frozen=True)
class TableDef:
    """A table's DDL body (MariaDB's ``SHOW CREATE TABLE`` rendering) and its column order."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (column, type + attributes)
    keys: tuple[str, ...]
    auto_increment: str | None = None  # column whose max+1 is the AUTO_INCREMENT table option

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def create_table(self, rows: Sequence[Mapping[str, Any]] = ()) -> str:
        lines = [f"  `{c}` {t}" for c, t in self.columns] + [f"  {k}" for k in self.keys]
        options = "ENGINE=InnoDB"
        if self.auto_increment and rows:
            options += f" AUTO_INCREMENT={max(int(r[self.auto_increment]) for r in rows) + 1}"
        return f"CREATE TABLE `{self.name}` (\n" + ",\n".join(lines) + f"\n) {options} DEFAULT CHARSET=binary;"


_IMG_MEDIA = "'UNKNOWN','BITMAP','DRAWING','AUDIO','VIDEO','MULTIMEDIA','OFFICE','TEXT','EXECUTABLE','ARCHIVE','3D'"
_IMG_MAJOR = "'unknown','application','audio','image','text','video','message','model','multipart','chemical'"

#: current MediaWiki (1.46) tables, physical column order as on Wikimedia production
TABLES: dict[str, TableDef] = {
    "page": TableDef(
        "page",
        (
            ("page_id", "int(10) unsigned NOT NULL AUTO_INCREMENT"),
            ("page_namespace", "int(11) NOT NULL"),
            ("page_title", "varbinary(255) NOT NULL"),
            ("page_is_redirect", "tinyint(3) unsigned NOT NULL DEFAULT 0"),
            ("page_is_new", "tinyint(3) unsigned NOT NULL DEFAULT 0"),
            ("page_random", "double unsigned NOT NULL"),
            ("page_touched", "binary(14) NOT NULL"),
            ("page_links_updated", "binary(14) DEFAULT NULL"),
            ("page_latest", "int(10) unsigned NOT NULL"),
            ("page_len", "int(10) unsigned NOT NULL"),
            ("page_content_model", "varbinary(32) DEFAULT NULL"),
            ("page_lang", "varbinary(35) DEFAULT NULL"),
        ),
        (
            "PRIMARY KEY (`page_id`)",
            "UNIQUE KEY `page_name_title` (`page_namespace`,`page_title`)",
            "KEY `page_random` (`page_random`)",
            "KEY `page_len` (`page_len`)",
            "KEY `page_redirect_namespace_len` (`page_is_redirect`,`page_namespace`,`page_len`)",
        ),
        auto_increment="page_id",
    ),
    "linktarget": TableDef(
        "linktarget",
        (
            ("lt_id", "bigint(20) unsigned NOT NULL AUTO_INCREMENT"),
            ("lt_namespace", "int(11) NOT NULL"),
            ("lt_title", "varbinary(255) NOT NULL"),
        ),
        ("PRIMARY KEY (`lt_id`)", "UNIQUE KEY `lt_namespace_title` (`lt_namespace`,`lt_title`)"),
        auto_increment="lt_id",
    ),
    "imagelinks": TableDef(
        "imagelinks",
        (
            ("il_from", "int(10) unsigned NOT NULL DEFAULT 0"),
            ("il_from_namespace", "int(11) NOT NULL DEFAULT 0"),
            ("il_target_id", "bigint(20) unsigned NOT NULL"),
        ),
        (
            "PRIMARY KEY (`il_from`,`il_target_id`)",
            "KEY `il_target_id` (`il_target_id`,`il_from`)",
            "KEY `il_backlinks_namespace_target_id` (`il_from_namespace`,`il_target_id`,`il_from`)",
        ),
    ),
    "page_props": TableDef(
        "page_props",
        (
            ("pp_page", "int(10) unsigned NOT NULL"),
            ("pp_propname", "varbinary(60) NOT NULL"),
            ("pp_value", "blob NOT NULL"),
            ("pp_sortkey", "float DEFAULT NULL"),
        ),
        (
            "PRIMARY KEY (`pp_page`,`pp_propname`)",
            "UNIQUE KEY `pp_propname_page` (`pp_propname`,`pp_page`)",
            "UNIQUE KEY `pp_propname_sortkey_page` (`pp_propname`,`pp_sortkey`,`pp_page`)",
        ),
    ),
    "categorylinks": TableDef(
        "categorylinks",
        (
            ("cl_from", "int(10) unsigned NOT NULL DEFAULT 0"),
            ("cl_sortkey", "varbinary(230) NOT NULL DEFAULT ''"),
            ("cl_timestamp", "timestamp NOT NULL"),
            ("cl_sortkey_prefix", "varbinary(255) NOT NULL DEFAULT ''"),
            ("cl_type", "enum('page','subcat','file') NOT NULL DEFAULT 'page'"),
            ("cl_collation_id", "smallint(5) unsigned NOT NULL DEFAULT 0"),
            ("cl_target_id", "bigint(20) unsigned NOT NULL"),
        ),
        (
            "PRIMARY KEY (`cl_from`,`cl_target_id`)",
            "KEY `cl_sortkey_id` (`cl_target_id`,`cl_type`,`cl_sortkey`,`cl_from`)",
            "KEY `cl_timestamp_id` (`cl_target_id`,`cl_timestamp`)",
        ),
    ),
    "image": TableDef(
        "image",
        (
            ("img_name", "varbinary(255) NOT NULL DEFAULT ''"),
            ("img_size", "bigint(20) unsigned NOT NULL DEFAULT 0"),
            ("img_width", "int(11) NOT NULL DEFAULT 0"),
            ("img_height", "int(11) NOT NULL DEFAULT 0"),
            ("img_metadata", "mediumblob NOT NULL"),
            ("img_bits", "int(11) NOT NULL DEFAULT 0"),
            ("img_media_type", f"enum({_IMG_MEDIA}) DEFAULT NULL"),
            ("img_major_mime", f"enum({_IMG_MAJOR}) NOT NULL DEFAULT 'unknown'"),
            ("img_minor_mime", "varbinary(100) NOT NULL DEFAULT 'unknown'"),
            ("img_description_id", "bigint(20) unsigned NOT NULL"),
            ("img_actor", "bigint(20) unsigned NOT NULL"),
            ("img_timestamp", "binary(14) NOT NULL"),
            ("img_sha1", "varbinary(32) NOT NULL DEFAULT ''"),
        ),
        (
            "PRIMARY KEY (`img_name`)",
            "KEY `img_actor_timestamp` (`img_actor`,`img_timestamp`)",
            "KEY `img_size` (`img_size`)",
            "KEY `img_timestamp` (`img_timestamp`)",
            "KEY `img_sha1` (`img_sha1`(10))",
            "KEY `img_media_mime` (`img_media_type`,`img_major_mime`,`img_minor_mime`)",
        ),
    ),
}

#: the pre-migration schema (MediaWiki ≤ 1.43 / 1.45): titles inline, no link target ids
LEGACY_TABLES: dict[str, TableDef] = {
    "imagelinks": TableDef(
        "imagelinks",
        (
            ("il_from", "int(10) unsigned NOT NULL DEFAULT 0"),
            ("il_from_namespace", "int(11) NOT NULL DEFAULT 0"),
            ("il_to", "varbinary(255) NOT NULL DEFAULT ''"),
        ),
        (
            "PRIMARY KEY (`il_from`,`il_to`)",
            "KEY `il_to` (`il_to`,`il_from`)",
            "KEY `il_backlinks_namespace` (`il_from_namespace`,`il_to`,`il_from`)",
        ),
    ),
    "categorylinks": TableDef(
        "categorylinks",
        (
            ("cl_from", "int(10) unsigned NOT NULL DEFAULT 0"),
            ("cl_to", "varbinary(255) NOT NULL DEFAULT ''"),
            ("cl_sortkey", "varbinary(230) NOT NULL DEFAULT ''"),
            ("cl_timestamp", "timestamp NOT NULL"),
            ("cl_sortkey_prefix", "varbinary(255) NOT NULL DEFAULT ''"),
            ("cl_collation", "varbinary(32) NOT NULL DEFAULT ''"),
            ("cl_type", "enum('page','subcat','file') NOT NULL DEFAULT 'page'"),
        ),
        (
            "PRIMARY KEY (`cl_from`,`cl_to`)",
            "KEY `cl_sortkey` (`cl_to`,`cl_type`,`cl_sortkey`,`cl_from`)",
            "KEY `cl_timestamp` (`cl_to`,`cl_timestamp`)",
            "KEY `cl_collation_ext` (`cl_collation`,`cl_to`,`cl_type`,`cl_from`)",
        ),
    ),
}

#: the migration's middle state, as enwiktionary's 2025 dumps show it: the old ``cl_to`` (NOT
#: NULL, authoritative) beside a nullable ``cl_target_id``, which rows not migrated yet leave NULL
TRANSITIONAL_TABLES: dict[str, TableDef] = {
    "categorylinks": TableDef(
        "categorylinks",
        (
            ("cl_from", "int(8) unsigned NOT NULL DEFAULT 0"),
            ("cl_to", "varbinary(255) NOT NULL DEFAULT ''"),
            ("cl_sortkey", "varbinary(230) NOT NULL DEFAULT ''"),
            ("cl_timestamp", "timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp()"),
            ("cl_sortkey_prefix", "varbinary(255) NOT NULL DEFAULT ''"),
            ("cl_collation", "varbinary(32) NOT NULL DEFAULT ''"),
            ("cl_type", "enum('page','subcat','file') NOT NULL DEFAULT 'page'"),
            ("cl_collation_id", "smallint(5) unsigned NOT NULL DEFAULT 0"),
            ("cl_target_id", "bigint(20) unsigned DEFAULT NULL"),
        ),
        (
            "PRIMARY KEY (`cl_from`,`cl_to`)",
            "KEY `cl_timestamp` (`cl_to`,`cl_timestamp`)",
            "KEY `cl_sortkey` (`cl_to`,`cl_type`,`cl_sortkey`,`cl_from`)",
            "KEY `cl_sortkey_id` (`cl_target_id`,`cl_type`,`cl_sortkey`,`cl_from`)",
        ),
    ),
}

_ESCAPES = {0: b"\\0", 10: b"\\n", 13: b"\\r", 92: b"\\\\", 39: b"\\'", 34: b'\\"', 26: b"\\Z"}
_NEEDS_ESCAPE = re.compile(rb"[\x00\n\r\\'\"\x1a]")


def escape_bytes(value: bytes) -> bytes:
    """``mysql_real_escape_string``: NUL, \\n, \\r, backslash, both quotes and Ctrl-Z."""
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()[0]], value)


def sql_literal(value: Any) -> bytes:
    """One value as mysqldump writes it."""
    if value is None:
        return b"NULL"
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "E" in text:  # MariaDB prints doubles positionally (1e-07 → 0.0000001)
            text = format(Decimal(text), "f")
        if text.endswith(".0"):
            text = text[:-2]
        return text.encode()
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return b"'" + escape_bytes(raw) + b"'"


def _header(style: Style, database: str, host: str, server_version: str) -> list[str]:
    if style == "mariadb":
        first = [
            "/*M!999999\\- enable the sandbox mode */ ",
            f"-- MariaDB dump 10.19  Distrib {server_version.split('-log')[0].split('+')[0]}, for debian-linux-gnu (x86_64)",
        ]
    else:
        first = ["-- MySQL dump 10.16  Distrib 10.1.26-MariaDB, for debian-linux-gnu (x86_64)"]
    return [
        *first,
        "--",
        f"-- Host: {host}    Database: {database}",
        "-- ------------------------------------------------------",
        f"-- Server version\t{server_version}",
        "",
        "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;",
        "/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;",
        "/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;",
        "/*!40101 SET NAMES utf8mb4 */;",
        "/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;",
        "/*!40103 SET TIME_ZONE='+00:00' */;",
        "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;",
        "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;",
        "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
        "/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;",
        "",
    ]


_TRAILER = [
    "/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;",
    "",
    "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;",
    "/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;",
    "/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;",
    "/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;",
    "/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;",
    "/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;",
    "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;",
    "",
]


def write_dump(
    table: TableDef,
    rows: Iterable[Mapping[str, Any]],
    *,
    style: Style = "mariadb",
    database: str = "wiki",
    host: str = "localhost",
    server_version: str = "10.11.19-MariaDB-log",
    completed: datetime | None = None,
    max_statement_bytes: int = 1_000_000,
) -> bytes:
    """The whole ``.sql`` file (uncompressed) for ``rows`` (already in primary-key order)."""
    rows = list(rows)
    name = table.name
    out: list[bytes] = []

    def line(text: str) -> None:
        out.append(text.encode("utf-8") + b"\n")

    for text in _header(style, database, host, server_version):
        line(text)
    for text in ("--", f"-- Table structure for table `{name}`", "--", "", f"DROP TABLE IF EXISTS `{name}`;"):
        line(text)
    line("/*!40101 SET @saved_cs_client     = @@character_set_client */;")
    line("/*!40101 SET character_set_client = utf8mb4 */;")
    line(table.create_table(rows))
    line("/*!40101 SET character_set_client = @saved_cs_client */;")
    line("")
    if rows:
        for text in ("--", f"-- Dumping data for table `{name}`", "--", "", f"/*!40000 ALTER TABLE `{name}` DISABLE KEYS */;"):
            line(text)
        out.extend(_inserts(table, rows, style, max_statement_bytes))
        line(f"/*!40000 ALTER TABLE `{name}` ENABLE KEYS */;")
    for text in _TRAILER:
        line(text)
    when = completed or datetime(2000, 1, 1)
    line(f"-- Dump completed on {when:%Y-%m-%d} {when.hour:2d}:{when:%M:%S}")
    return b"".join(out)


def _inserts(table: TableDef, rows: list[Mapping[str, Any]], style: Style, limit: int) -> Iterable[bytes]:
    columns = table.column_names
    prefix = f"INSERT INTO `{table.name}` VALUES".encode()
    separator = b",\n" if style == "mariadb" else b","
    opener = b"\n" if style == "mariadb" else b" "
    statement: list[bytes] = []
    size = 0
    for row in rows:
        tuple_bytes = b"(" + b",".join(sql_literal(row[c]) for c in columns) + b")"
        if statement and size + len(tuple_bytes) + 2 > limit:
            yield prefix + opener + separator.join(statement) + b";\n"
            statement, size = [], 0
        statement.append(tuple_bytes)
        size += len(tuple_bytes) + len(separator) + (len(prefix) if size == 0 else 0)
    if statement:
        yield prefix + opener + separator.join(statement) + b";\n"


def to_legacy(table: str, rows: Iterable[Mapping[str, Any]], linktarget: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Current-schema imagelinks/categorylinks rows → the legacy ``il_to``/``cl_to`` form (PK order)."""
    titles = {r["lt_id"]: r["lt_title"] for r in linktarget}
    if table == "imagelinks":
        out = [{"il_from": r["il_from"], "il_from_namespace": r["il_from_namespace"], "il_to": titles[r["il_target_id"]]} for r in rows]
        return sorted(out, key=lambda r: (r["il_from"], str(r["il_to"]).encode()))
    if table == "categorylinks":
        out = [
            {
                "cl_from": r["cl_from"],
                "cl_to": titles[r["cl_target_id"]],
                "cl_sortkey": r["cl_sortkey"],
                "cl_timestamp": r["cl_timestamp"],
                "cl_sortkey_prefix": r["cl_sortkey_prefix"],
                "cl_collation": "uppercase",
                "cl_type": r["cl_type"],
            }
            for r in rows
        ]
        return sorted(out, key=lambda r: (r["cl_from"], str(r["cl_to"]).encode()))
    raise ValueError(f"table {table!r} has no legacy form")


def to_transitional(table: str, rows: Iterable[Mapping[str, Any]], linktarget: Iterable[Mapping[str, Any]],
                    *, unmigrated_every: int = 3) -> list[dict[str, Any]]:
    """Current-schema categorylinks rows → the transitional form (:data:`TRANSITIONAL_TABLES`):
    ``cl_to`` filled from linktarget, ``cl_target_id`` NULL on every ``unmigrated_every``-th row."""
    if table not in TRANSITIONAL_TABLES:
        raise ValueError(f"table {table!r} has no transitional form")
    titles = {r["lt_id"]: r["lt_title"] for r in linktarget}
    out = []
    for i, r in enumerate(sorted(rows, key=lambda r: (r["cl_from"], str(titles[r["cl_target_id"]]).encode()))):
        out.append({**r, "cl_to": titles[r["cl_target_id"]], "cl_collation": "uppercase",
                    "cl_target_id": None if unmigrated_every and i % unmigrated_every == 0 else r["cl_target_id"]})
    return out
