"""The sample wiki's logical model and its projection onto MediaWiki tables.

The generator mutates a :class:`Model` (pages, files, link targets) day by day and keeps a
deep copy per day; :meth:`Model.tables` projects one copy onto the *current* MediaWiki
schema (see the column tuples below, in the physical order production dumps write them).

Rows are plain dicts; text columns (VARBINARY in MediaWiki) are ``str`` holding the UTF-8
text, numbers are ``int``/``float`` and SQL NULL is ``None``.  Rows are sorted by primary
key, as ``mysqldump`` writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wikivis.datasets import hex_to_base36
from wikivis.vocab import NS_CATEGORY, NS_FILE, NS_MAIN, NS_PROJECT, NS_USER  # noqa: F401  (re-exported)

#: columns per table, in the physical order of Wikimedia production (dumps keep that order;
#: categorylinks got cl_target_id last because it was added by ALTER TABLE in 1.44)
COLUMNS: dict[str, tuple[str, ...]] = {
    "page": (
        "page_id",
        "page_namespace",
        "page_title",
        "page_is_redirect",
        "page_is_new",
        "page_random",
        "page_touched",
        "page_links_updated",
        "page_latest",
        "page_len",
        "page_content_model",
        "page_lang",
    ),
    "linktarget": ("lt_id", "lt_namespace", "lt_title"),
    "imagelinks": ("il_from", "il_from_namespace", "il_target_id"),
    "page_props": ("pp_page", "pp_propname", "pp_value", "pp_sortkey"),
    "categorylinks": (
        "cl_from",
        "cl_sortkey",
        "cl_timestamp",
        "cl_sortkey_prefix",
        "cl_type",
        "cl_collation_id",
        "cl_target_id",
    ),
    "image": (
        "img_name",
        "img_size",
        "img_width",
        "img_height",
        "img_metadata",
        "img_bits",
        "img_media_type",
        "img_major_mime",
        "img_minor_mime",
        "img_description_id",
        "img_actor",
        "img_timestamp",
        "img_sha1",
    ),
}

#: tables per wiki in a dump run
WIKI_TABLES = ("page", "linktarget", "imagelinks", "page_props", "categorylinks")
COMMONS_TABLES = ("image", "page", "linktarget", "categorylinks")


MIME = {"jpeg": ("image", "jpeg", "BITMAP"), "png": ("image", "png", "BITMAP"), "svg": ("image", "svg+xml", "DRAWING")}
EXTENSION = {"jpeg": "jpg", "png": "png", "svg": "svg"}


@dataclass
class PageRec:
    page_id: int
    namespace: int
    title: str  # DB key: underscores, no namespace prefix
    rev_id: int
    touched: str  # YYYYMMDDHHMMSS
    length: int
    random: float
    topic: str | None = None
    is_redirect: bool = False
    rev_count: int = 1
    images: list[str] = field(default_factory=list)  # file names in page order
    categories: list[str] = field(default_factory=list)
    wikibase_item: str | None = None
    shortdesc: str | None = None
    cat_added: dict[str, str] = field(default_factory=dict)  # category -> cl_timestamp


@dataclass
class FileRec:
    name: str
    topic: str
    fmt: str
    width: int
    height: int
    size: int
    sha1: str  # hex
    timestamp: str  # YYYYMMDDHHMMSS of the current version
    render_seed: int
    actor: int
    description_id: int
    commons_page_id: int
    version: int = 1
    categories: list[str] = field(default_factory=list)
    cat_added: dict[str, str] = field(default_factory=dict)


@dataclass
class Model:
    pages: dict[int, PageRec] = field(default_factory=dict)
    archive: dict[int, PageRec] = field(default_factory=dict)  # deleted pages (undeletable)
    files: dict[str, FileRec] = field(default_factory=dict)
    file_archive: dict[str, FileRec] = field(default_factory=dict)
    linktargets: dict[tuple[int, str], int] = field(default_factory=dict)  # insert-only
    commons_linktargets: dict[tuple[int, str], int] = field(default_factory=dict)

    def target_id(self, namespace: int, title: str, *, commons: bool = False) -> int:
        """The linktarget id of (namespace, title), inserting it when new (ids never reused)."""
        table = self.commons_linktargets if commons else self.linktargets
        key = (namespace, title)
        if key not in table:
            table[key] = len(table) + 1
        return table[key]

    # ------------------------------------------------------------------ projections
    def lead_images(self, page: PageRec, free: dict[str, bool], icons: set[str]) -> tuple[str | None, str | None]:
        """PageImages: (page_image, page_image_free): first non-icon image (free one)."""
        candidates = [f for f in page.images if f not in icons and f in self.files]
        lead = candidates[0] if candidates else None
        lead_free = next((f for f in candidates if free.get(f, False)), None)
        return lead, lead_free

    def page_props(self, page: PageRec, free: dict[str, bool], icons: set[str]) -> dict[str, str]:
        props: dict[str, str] = {}
        if page.is_redirect:
            return props
        lead, lead_free = self.lead_images(page, free, icons)
        if lead:
            props["page_image"] = lead
        if lead_free:
            props["page_image_free"] = lead_free
        if page.wikibase_item:
            props["wikibase_item"] = page.wikibase_item
        if page.shortdesc:
            props["wikibase-shortdesc"] = page.shortdesc
        return props

    def wiki_tables(self, free: dict[str, bool], icons: set[str]) -> dict[str, list[dict[str, Any]]]:
        pages = [self.pages[k] for k in sorted(self.pages)]
        for p in pages:  # make sure every link has a target (insert-only table)
            for f in p.images:
                self.target_id(NS_FILE, f)
            for c in p.categories:
                self.target_id(NS_CATEGORY, c)
        page_rows = [_page_row(p) for p in pages]
        il: list[dict[str, Any]] = []
        pp: list[dict[str, Any]] = []
        cl: list[dict[str, Any]] = []
        for p in pages:
            ids = sorted({self.linktargets[(NS_FILE, f)] for f in p.images})
            il.extend({"il_from": p.page_id, "il_from_namespace": p.namespace, "il_target_id": t} for t in ids)
            for name, value in sorted(self.page_props(p, free, icons).items()):
                pp.append({"pp_page": p.page_id, "pp_propname": name, "pp_value": value, "pp_sortkey": None})
            cl.extend(_category_rows(p.page_id, p.title, "page", p.categories, p.cat_added, self.linktargets))
        return {
            "page": page_rows,
            "linktarget": _linktarget_rows(self.linktargets),
            "imagelinks": il,
            "page_props": pp,
            "categorylinks": cl,
        }

    def commons_tables(self, descriptions: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        files = [self.files[k] for k in sorted(self.files)]
        for f in files:
            for c in f.categories:
                self.target_id(NS_CATEGORY, c, commons=True)
        image_rows = [_image_row(f) for f in files]
        page_rows = sorted(
            (
                {
                    "page_id": f.commons_page_id,
                    "page_namespace": NS_FILE,
                    "page_title": f.name,
                    "page_is_redirect": 0,
                    "page_is_new": int(f.version == 1),
                    "page_random": _unit(f.sha1),
                    "page_touched": f.timestamp,
                    "page_links_updated": f.timestamp,
                    "page_latest": f.commons_page_id * 10 + f.version,
                    "page_len": 400 + len(descriptions.get(f.name, "")),
                    "page_content_model": "wikitext",
                    "page_lang": None,
                }
                for f in sorted(files, key=lambda f: f.commons_page_id)
            ),
            key=lambda r: int(r["page_id"] or 0),
        )
        cl: list[dict[str, Any]] = []
        for f in sorted(files, key=lambda f: f.commons_page_id):
            cl.extend(
                _category_rows(f.commons_page_id, f.name, "file", f.categories, f.cat_added, self.commons_linktargets)
            )
        return {
            "image": image_rows,
            "page": page_rows,
            "linktarget": _linktarget_rows(self.commons_linktargets),
            "categorylinks": cl,
        }


def _unit(hex_text: str) -> float:
    return round(int(hex_text[:12], 16) / float(16**12), 12)


def _page_row(p: PageRec) -> dict[str, Any]:
    return {
        "page_id": p.page_id,
        "page_namespace": p.namespace,
        "page_title": p.title,
        "page_is_redirect": int(p.is_redirect),
        "page_is_new": int(p.rev_count == 1),
        "page_random": p.random,
        "page_touched": p.touched,
        "page_links_updated": p.touched,
        "page_latest": p.rev_id,
        "page_len": p.length,
        "page_content_model": "wikitext",
        "page_lang": None,
    }


def _linktarget_rows(table: dict[tuple[int, str], int]) -> list[dict[str, Any]]:
    return [
        {"lt_id": lt_id, "lt_namespace": ns, "lt_title": title}
        for (ns, title), lt_id in sorted(table.items(), key=lambda kv: kv[1])
    ]


def _category_rows(
    page_id: int,
    title: str,
    cl_type: str,
    categories: list[str],
    added: dict[str, str],
    targets: dict[tuple[int, str], int],
) -> list[dict[str, Any]]:
    sortkey = title.replace("_", " ").upper()
    rows = [
        {
            "cl_from": page_id,
            "cl_sortkey": sortkey,
            "cl_timestamp": added[c],
            "cl_sortkey_prefix": "",
            "cl_type": cl_type,
            "cl_collation_id": 1,
            "cl_target_id": targets[(NS_CATEGORY, c)],
        }
        for c in dict.fromkeys(categories)
    ]
    return sorted(rows, key=lambda r: r["cl_target_id"])


def _image_row(f: FileRec) -> dict[str, Any]:
    major, minor, media_type = MIME[f.fmt]
    bits = 0 if f.fmt == "svg" else 8
    metadata = json.dumps({"data": {"width": f.width, "height": f.height}, "blobs": []}, separators=(",", ":"))
    return {
        "img_name": f.name,
        "img_size": f.size,
        "img_width": f.width,
        "img_height": f.height,
        "img_metadata": metadata,
        "img_bits": bits,
        "img_media_type": media_type,
        "img_major_mime": major,
        "img_minor_mime": minor,
        "img_description_id": f.description_id,
        "img_actor": f.actor,
        "img_timestamp": f.timestamp,
        "img_sha1": hex_to_base36(f.sha1),
    }
