"""Apply re-read pages and files onto a lake snapshot (pure Arrow, no I/O).

The delta is "replace every row of a dirty page by its re-read rows": rows of the pages,
article_images, article_categories (and, when the base has it, article_items: the
``wikibase_item`` that page-properties-change announces) datasets are keyed by ``page_id``, so a dirty page's
rows are dropped and its current rows (if it still is an article) appended; a page that is
gone (deleted, moved out of namespace 0) simply has no rows any more.

``files`` holds file-wiki ``image`` rows, in one of two scopes (:data:`FILES_SCOPES`):

* ``"all"`` — the whole ``image`` table, as the dump ingest writes it: dirty files (upload,
  overwrite, delete, move) are re-read and replace their rows (or remove them).
* ``"used"`` — only the files the wiki's articles use, as the replica pull writes it: after
  the pages are applied the used names are recomputed, rows of names no longer used are
  dropped, dirty files still used are re-read, and names that became used without a row in
  the base (red links turned blue are dirty anyway) are re-read too.

:func:`files_to_fetch` says which names need a re-read in each scope; a file named by no event
and already in the base is unchanged, by the events contract.

Writers sort rows by :data:`wikivis.datasets.SORT_KEYS`, so the result compares equal to the
dump of the same day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from wikivis.datasets import schema as dataset_schema
from wikivis.vocab import NS_MAIN

PAGE_DATASETS = ("pages", "article_images", "article_categories")
#: page-keyed datasets refreshed when the base snapshot has them (older snapshots may not)
OPTIONAL_PAGE_DATASETS = ("article_items",)
FILES_SCOPES = ("all", "used")

_ITEM_RE = re.compile(r"Q[1-9][0-9]*")  # the dump path's rule for wikibase_item values


@dataclass(frozen=True, slots=True)
class PageState:
    """One page as the wiki shows it now (titles are DB keys, without namespace prefix)."""

    page_id: int
    namespace: int
    title: str
    is_redirect: bool
    files: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    lead_images: frozenset[str] = frozenset()
    item: str | None = None  # page_props.wikibase_item


@dataclass(frozen=True, slots=True)
class FileRow:
    """One row of the file wiki's ``image`` table, as the ``files`` dataset holds it."""

    file_name: str
    size: int
    width: int
    height: int
    media_type: str | None
    mime: str
    sha1: str  # hex
    timestamp: str  # MediaWiki 14-digit YYYYMMDDHHMMSS


def conform(table: pa.Table, dataset: str) -> pa.Table:
    """``table`` with exactly the dataset's columns, order and types."""
    target = dataset_schema(dataset)
    return table.select(target.names).cast(target)


def without_pages(table: pa.Table, page_ids: Iterable[int]) -> pa.Table:
    ids = pa.array(sorted(set(page_ids)), type=pa.int64())
    if not len(ids) or not table.num_rows:
        return table
    return table.filter(pc.invert(pc.is_in(table.column("page_id"), value_set=ids)))


def page_rows(wiki: str, states: Iterable[PageState]) -> dict[str, pa.Table]:
    """The dataset rows of the pages that are articles (namespace 0)."""
    pages: dict[str, list[Any]] = {k: [] for k in ("page_id", "page_namespace", "page_title", "is_redirect")}
    images: dict[str, list[Any]] = {k: [] for k in ("page_id", "page_namespace", "page_title", "file_name", "is_lead")}
    categories: dict[str, list[Any]] = {"page_id": [], "category": []}
    items: dict[str, list[Any]] = {"page_id": [], "item": []}
    for state in states:
        if state.namespace != NS_MAIN:
            continue
        if state.item and not state.is_redirect and _ITEM_RE.fullmatch(state.item):
            items["page_id"].append(state.page_id)
            items["item"].append(state.item)
        pages["page_id"].append(state.page_id)
        pages["page_namespace"].append(state.namespace)
        pages["page_title"].append(state.title)
        pages["is_redirect"].append(state.is_redirect)
        for name in dict.fromkeys(state.files):
            images["page_id"].append(state.page_id)
            images["page_namespace"].append(state.namespace)
            images["page_title"].append(state.title)
            images["file_name"].append(name)
            images["is_lead"].append(name in state.lead_images)
        for category in dict.fromkeys(state.categories):
            categories["page_id"].append(state.page_id)
            categories["category"].append(category)
    out = {}
    for dataset, columns in (("pages", pages), ("article_images", images), ("article_categories", categories),
                             ("article_items", items)):
        n = len(columns["page_id"])
        schema = dataset_schema(dataset)
        out[dataset] = pa.Table.from_pydict({"wiki": [wiki] * n, **columns}, schema=schema)
    return out


def apply_pages(base: Mapping[str, pa.Table], states: Mapping[int, PageState | None], wiki: str) -> dict[str, pa.Table]:
    """pages / article_images / article_categories with every dirty page's rows replaced.

    ``states`` maps each dirty page id to its re-read state, or None when the page is gone.
    """
    fresh = page_rows(wiki, (s for s in states.values() if s is not None))
    out = {}
    for dataset in (*PAGE_DATASETS, *(d for d in OPTIONAL_PAGE_DATASETS if d in base)):
        kept = conform(without_pages(base[dataset], states.keys()), dataset)
        out[dataset] = pa.concat_tables([kept, fresh[dataset]])
    return out


def used_names(article_images: pa.Table) -> set[str]:
    return set(pc.unique(article_images.column("file_name")).to_pylist()) if article_images.num_rows else set()


def files_to_fetch(
    base_files: pa.Table, states: Mapping[int, PageState | None], dirty_files: Iterable[str], used: set[str] | None
) -> set[str]:
    """File names to re-read.  ``used`` None: scope "all" (every dirty file); else scope
    "used": dirty files still used, and names newly used by re-read pages."""
    if used is None:
        return set(dirty_files)
    known = set(base_files.column("file_name").to_pylist())
    named = {name for s in states.values() if s is not None and s.namespace == NS_MAIN for name in s.files}
    return (set(dirty_files) & used) | ((named & used) - known)


def apply_files(
    base_files: pa.Table, fetched: Mapping[str, FileRow | None], files_wiki: str, used: set[str] | None = None
) -> pa.Table:
    """``files`` with re-read files replaced (None: gone); restricted to ``used`` names
    unless ``used`` is None (scope "all")."""
    names = base_files.column("file_name")
    keep = pc.invert(pc.is_in(names, value_set=pa.array(sorted(fetched), type=pa.string())))
    if used is not None:
        keep = pc.and_(keep, pc.is_in(names, value_set=pa.array(sorted(used), type=pa.string())))
    kept = base_files.filter(keep)
    rows = [row for _, row in sorted(fetched.items()) if row is not None and (used is None or row.file_name in used)]
    fresh = pa.Table.from_pylist(
        [
            {
                "wiki": files_wiki,
                "file_name": r.file_name,
                "size": r.size,
                "width": r.width,
                "height": r.height,
                "media_type": r.media_type,
                "mime": r.mime,
                "sha1": r.sha1,
                "timestamp": r.timestamp,
            }
            for r in rows
        ],
        schema=dataset_schema("files"),
    )
    return pa.concat_tables([conform(kept, "files"), fresh])
