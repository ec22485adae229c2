"""The ``CREATE TABLE`` of a dump file, mapped to Arrow.

A MediaWiki table's *column order* in a dump is the production table's physical order (its
``ALTER`` history), not the order in ``tables.json``; ``imagelinks`` lost ``il_to`` in 2026.
So the parser never assumes a layout: it reads the DDL that ``mysqldump`` writes just before
the data and maps every column by name and declared type.

Type mapping (SQL → Arrow):

=====================================================  =========================================
``BIGINT UNSIGNED``                                    ``uint64`` (exact up to 2^64−1)
``BIGINT``, ``INT UNSIGNED``                           ``int64``
``INT``, ``MEDIUMINT``, ``SMALLINT``, ``TINYINT``,     ``int32``
``YEAR`` (any signedness)
``FLOAT``, ``DOUBLE``, ``REAL``                        ``float64``
``DECIMAL(p,s)``                                       ``decimal128(p, s)``
``CHAR``/``VARCHAR``/``*TEXT``/``JSON``/``ENUM``/      ``string``
``SET``/``DATE``/``TIME``/``DATETIME``/``TIMESTAMP``
``BINARY``/``VARBINARY``/``*BLOB``                     ``binary``, or ``string`` for *text columns*
=====================================================  =========================================

Wikimedia tables are ``DEFAULT CHARSET=binary``: titles are ``VARBINARY`` holding UTF-8.
Which binary columns are really text is MediaWiki knowledge, kept in
:data:`DEFAULT_TEXT_COLUMNS` (callers may pass their own map); those are decoded as UTF-8
and validated.  Sort keys (``cl_sortkey``, collation bytes) and blobs (``pp_value``,
``img_metadata``) stay bytes.  Any other type (``BIT``, ``GEOMETRY``, ``UUID``...) is an
:class:`~wikivis.errors.InputError`: guessing would silently corrupt values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from wikivis.errors import InputError

#: how a column's values are written in the dump and converted
Kind = Literal["int", "float", "decimal", "text", "binary"]

#: binary (VARBINARY/BLOB) columns that MediaWiki uses for UTF-8 text, per table
DEFAULT_TEXT_COLUMNS: Mapping[str, frozenset[str]] = {
    table: frozenset(cols)
    for table, cols in {
        "page": ("page_title", "page_touched", "page_links_updated", "page_content_model", "page_lang"),
        "linktarget": ("lt_title",),
        "imagelinks": ("il_to",),
        "pagelinks": ("pl_title",),
        "templatelinks": ("tl_title",),
        "categorylinks": ("cl_to", "cl_sortkey_prefix", "cl_collation", "cl_timestamp"),
        "collation": ("collation_name",),
        "category": ("cat_title",),
        "page_props": ("pp_propname",),
        "redirect": ("rd_title", "rd_interwiki", "rd_fragment"),
        "image": ("img_name", "img_minor_mime", "img_timestamp", "img_sha1"),
        "oldimage": ("oi_name", "oi_archive_name", "oi_minor_mime", "oi_timestamp", "oi_sha1"),
        "file": ("file_name",),
        "filerevision": ("fr_timestamp", "fr_sha1", "fr_archive_name"),
        "filetypes": ("ft_media_type", "ft_major_mime", "ft_minor_mime"),
        "langlinks": ("ll_lang", "ll_title"),
        "iwlinks": ("iwl_prefix", "iwl_title"),
        "globalimagelinks": ("gil_wiki", "gil_page_title", "gil_to"),
        "geo_tags": ("gt_globe", "gt_country", "gt_region", "gt_name", "gt_type"),
        "wbc_entity_usage": ("eu_entity_id", "eu_aspect"),
        "change_tag_def": ("ctd_name",),
        "user_groups": ("ug_group", "ug_expiry"),
        "protected_titles": ("pt_title", "pt_create_perm", "pt_expiry", "pt_timestamp"),
        "page_restrictions": ("pr_type", "pr_level", "pr_expiry"),
        "sites": ("site_global_key", "site_type", "site_group", "site_source", "site_language", "site_protocol",
                  "site_domain"),
    }.items()
}

_INT_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"}
_FLOAT_TYPES = {"float", "double", "real"}
_DECIMAL_TYPES = {"decimal", "numeric", "dec", "fixed"}
_TEXT_TYPES = {
    "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json", "enum", "set",
    "date", "time", "datetime", "timestamp",
}
_BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}


@dataclass(frozen=True)
class Column:
    """One column of a dumped table."""

    name: str
    sql_type: str  # as written in the DDL, e.g. "int(8) unsigned"
    kind: Kind
    arrow_type: pa.DataType

    @property
    def quoted(self) -> bool:
        """Whether mysqldump writes this column's values as quoted strings."""
        return self.kind in ("text", "binary")


@dataclass(frozen=True)
class TableSpec:
    """A dumped table: its name and columns in dump order."""

    name: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def index(self, name: str) -> int:
        return self.column_names.index(name)

    def arrow_schema(self, columns: Iterable[str] | None = None) -> pa.Schema:
        wanted = list(columns) if columns is not None else self.column_names
        by_name = {c.name: c for c in self.columns}
        return pa.schema(
            [pa.field(n, by_name[n].arrow_type, metadata={"mysql_type": by_name[n].sql_type}) for n in wanted],
            metadata={"mysql_table": self.name},
        )


class DDLError(ValueError):
    """A DDL problem; :func:`parse_create_table` turns it into an InputError naming file+offset."""


def map_type(sql_type: str, *, text: bool) -> tuple[Kind, pa.DataType]:
    """Map one DDL type (``int(10) unsigned``, ``varbinary(255)``...) to a kind and Arrow type."""
    m = re.match(r"\s*([a-zA-Z]+)(?:\s+precision)?\s*(?:\(([^)]*)\))?(.*)$", sql_type, re.S)
    if not m:
        raise DDLError(f"cannot read column type {sql_type!r}")
    base = m.group(1).lower()
    args = m.group(2) or ""
    rest = m.group(3).lower()
    unsigned = "unsigned" in rest.split() or "zerofill" in rest.split()
    if base in _INT_TYPES:
        if base == "bigint":
            return "int", pa.uint64() if unsigned else pa.int64()
        if base in ("int", "integer") and unsigned:
            return "int", pa.int64()
        return "int", pa.int32()
    if base in _FLOAT_TYPES:
        return "float", pa.float64()
    if base in _DECIMAL_TYPES:
        parts = [p.strip() for p in args.split(",") if p.strip()] if args else []
        precision = int(parts[0]) if parts else 10
        scale = int(parts[1]) if len(parts) > 1 else 0
        return "decimal", pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    if base in _TEXT_TYPES:
        return "text", pa.string()
    if base in _BINARY_TYPES:
        return ("text", pa.string()) if text else ("binary", pa.binary())
    raise DDLError(f"unknown column type {sql_type.strip()!r}; the dump parser does not guess")


def _outside_quotes(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """``(index, char, depth)`` for every character of ``text`` outside quotes and backticks;
    ``depth`` counts the open parentheses, the current character included."""
    depth, i, quote = 0, start, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 1
            elif ch == quote:
                if i + 1 < len(text) and text[i + 1] == quote:  # doubled quote
                    i += 1
                else:
                    quote = ""
        elif ch in "'\"`":
            quote = ch
        else:
            depth += (ch == "(") - (ch == ")")
            yield i, ch, depth
        i += 1


def _split_top_level(body: str) -> list[str]:
    """Split a CREATE TABLE body at commas outside parentheses, quotes and backticks."""
    items, start = [], 0
    for i, ch, depth in _outside_quotes(body):
        if ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    return [it.strip() for it in items if it.strip()]


def _matching_paren(text: str, open_at: int) -> int:
    """Index of the ``)`` closing the ``(`` at ``open_at`` (quote-aware), or -1."""
    for i, ch, depth in _outside_quotes(text, open_at):
        if ch == ")" and depth == 0:
            return i
    return -1


def unquote_identifier(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name


_CREATE_RE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"((?:`(?:[^`]|``)+`|\w+)(?:\s*\.\s*(?:`(?:[^`]|``)+`|\w+))?)\s*\(",
    re.I | re.S,
)
_COLUMN_RE = re.compile(r"^(`(?:[^`]|``)+`)\s+(.+)$", re.S)
_TYPE_RE = re.compile(r"^([a-zA-Z]+(?:\s+precision)?)\s*(\((?:[^()'`]|'(?:[^'\\]|\\.|'')*')*\))?\s*(.*)$", re.S)


def parse_create_table(
    statement: str,
    *,
    text_columns: Mapping[str, Iterable[str]] | None = None,
    decode_text: bool = True,
    source: str | None = None,
    offset: int | None = None,
    line: int | None = None,
) -> TableSpec:
    """Parse one ``CREATE TABLE`` statement into a :class:`TableSpec`.

    ``source``/``offset``/``line`` locate the statement in its file for error messages.
    """
    try:
        return _parse_create_table(statement, text_columns, decode_text)
    except DDLError as exc:
        raise InputError(str(exc), source=source, offset=offset, line=line) from None


def _parse_create_table(
    statement: str, text_columns: Mapping[str, Iterable[str]] | None, decode_text: bool
) -> TableSpec:
    m = _CREATE_RE.match(statement)
    if not m:
        raise DDLError("cannot read CREATE TABLE statement")
    qualified = m.group(1)
    table = unquote_identifier(re.split(r"`\s*\.\s*`|\.(?=`)", qualified)[-1] if "." in qualified else qualified)
    close = _matching_paren(statement, m.end() - 1)
    if close < 0:
        raise DDLError(f"unbalanced parentheses in CREATE TABLE `{table}`")
    text_map = DEFAULT_TEXT_COLUMNS if text_columns is None else text_columns
    text_set = set(text_map.get(table, ())) if decode_text else set()
    columns: list[Column] = []
    for item in _split_top_level(statement[m.end() : close]):
        cm = _COLUMN_RE.match(item)
        if not cm:
            continue  # PRIMARY KEY, KEY, UNIQUE, INDEX, CONSTRAINT, FOREIGN KEY, CHECK, PERIOD...
        name = unquote_identifier(cm.group(1))
        tm = _TYPE_RE.match(cm.group(2))
        if not tm:
            raise DDLError(f"cannot read the type of column `{table}`.`{name}`: {cm.group(2)!r}")
        rest_words = tm.group(3).split()
        modifiers = " ".join(w for w in rest_words[:2] if w.lower() in ("unsigned", "zerofill", "signed"))
        sql_type = f"{tm.group(1)}{tm.group(2) or ''}{' ' + modifiers if modifiers else ''}"
        if re.search(r"\b(GENERATED\s+ALWAYS|AS\s*\(|VIRTUAL|PERSISTENT|STORED)\b", tm.group(3), re.I):
            raise DDLError(f"generated column `{table}`.`{name}` is not supported")
        try:
            kind, arrow_type = map_type(sql_type, text=name in text_set)
        except DDLError as exc:
            raise DDLError(f"column `{table}`.`{name}`: {exc}") from None
        columns.append(Column(name, sql_type, kind, arrow_type))
    if not columns:
        raise DDLError(f"CREATE TABLE `{table}` declares no columns")
    return TableSpec(table, tuple(columns))
