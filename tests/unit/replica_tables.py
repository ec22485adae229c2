"""A tiny hand-made wiki (hostile titles, Unicode, redirects, non-articles, a gallery page)
loaded into SQLite replicas, plus a pure-Python reference of the datasets it must give."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wikivis.datasets import hex_to_base36

WIKI = "testwiki"
COMMONS = "commonswiki"
HOSTILE_TITLE = "Robert'); DROP TABLE page;--"
HOSTILE_FILE = "Bobby';_DROP_TABLE_image;--.jpg"
GALLERY = [f"G{i:02d}.jpg" for i in range(20)]


def tiny_tables() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{wiki: {table: rows}} with current MediaWiki column names."""
    pages = [
        (1, 0, "Alpha", 0),
        (2, 0, HOSTILE_TITLE, 0),
        (3, 0, "Ünïcödé_Łódź", 0),
        (4, 0, "Redirect_to_Alpha", 1),
        (5, 2, "Someone/Gallery", 0),  # user page: not an article
        (6, 0, "No_images", 0),
        (7, 0, "Gallery", 0),
        (8, 0, "Moved_in", 0),  # its imagelinks row still says il_from_namespace 2: not counted
    ]
    files = ["A.jpg", "B.png", HOSTILE_FILE, "Ž.svg", *GALLERY]
    targets = [(6, name) for name in files] + [(14, "Cats"), (14, "Dogs"), (0, "Alpha")]
    lt = {key: i + 1 for i, key in enumerate(targets)}
    image_links = [(1, "A.jpg"), (1, "B.png"), (1, "Ž.svg"), (2, HOSTILE_FILE), (2, "A.jpg"), (3, "Ž.svg"),
                   (5, "A.jpg"), (4, "B.png"), *((7, g) for g in GALLERY)]
    category_links = [(1, "Cats"), (1, "Dogs"), (2, "Cats"), (5, "Cats"), (7, "Dogs")]
    ns = {p[0]: p[1] for p in pages} | {8: 2}
    image_links.append((8, "A.jpg"))
    wiki = {
        "page": [
            {"page_id": pid, "page_namespace": n, "page_title": t, "page_is_redirect": r, "page_is_new": 0,
             "page_random": pid / 10, "page_touched": "20260101000000", "page_links_updated": None,
             "page_latest": pid * 10, "page_len": 100, "page_content_model": "wikitext", "page_lang": None}
            for pid, n, t, r in pages
        ],
        "linktarget": [{"lt_id": i, "lt_namespace": n, "lt_title": t} for (n, t), i in lt.items()],
        "imagelinks": sorted(
            ({"il_from": p, "il_from_namespace": ns[p], "il_target_id": lt[(6, f)]} for p, f in image_links),
            key=lambda r: (r["il_from"], r["il_target_id"]),
        ),
        "page_props": [
            {"pp_page": 1, "pp_propname": "page_image", "pp_value": "A.jpg", "pp_sortkey": None},
            {"pp_page": 1, "pp_propname": "page_image_free", "pp_value": "B.png", "pp_sortkey": None},
            {"pp_page": 2, "pp_propname": "page_image_free", "pp_value": HOSTILE_FILE, "pp_sortkey": None},
            {"pp_page": 3, "pp_propname": "wikibase_item", "pp_value": "Ž.svg", "pp_sortkey": None},
        ],
        "categorylinks": [
            {"cl_from": p, "cl_sortkey": "X", "cl_timestamp": "2026-01-01 00:00:00", "cl_sortkey_prefix": "",
             "cl_type": "page", "cl_collation_id": 1, "cl_target_id": lt[(14, c)]}
            for p, c in category_links
        ],
        "pagelinks": [{"pl_from": 6, "pl_target_id": lt[(0, "Alpha")], "pl_from_namespace": 0}],
    }
    commons = {
        "image": [
            {"img_name": name, "img_size": 1000 + i, "img_width": 10 + i, "img_height": 20 + i, "img_metadata": "{}",
             "img_bits": 8, "img_media_type": "DRAWING" if name.endswith(".svg") else "BITMAP",
             "img_major_mime": "image", "img_minor_mime": "svg+xml" if name.endswith(".svg") else "jpeg",
             "img_description_id": i, "img_actor": 1, "img_timestamp": f"2026010100{i:04d}",
             "img_sha1": hex_to_base36(f"{i + 1:040x}")}
            for i, name in enumerate([*files, "Unused.jpg"])
        ],
    }
    return {WIKI: wiki, COMMONS: commons}


def reference(tables: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, list[dict[str, Any]]]:
    """The datasets as the dump path defines them, in plain Python, sorted like the lake."""
    wiki = tables[WIKI]
    pages = {p["page_id"]: p for p in wiki["page"] if p["page_namespace"] == 0}
    lt = {r["lt_id"]: (r["lt_namespace"], r["lt_title"]) for r in wiki["linktarget"]}
    leads = {(r["pp_page"], r["pp_value"]) for r in wiki["page_props"]
             if r["pp_propname"] in ("page_image", "page_image_free")}
    images = [
        {"wiki": WIKI, "page_id": r["il_from"], "page_namespace": 0, "page_title": pages[r["il_from"]]["page_title"],
         "file_name": lt[r["il_target_id"]][1], "is_lead": (r["il_from"], lt[r["il_target_id"]][1]) in leads}
        for r in wiki["imagelinks"]
        if r["il_from"] in pages and r["il_from_namespace"] == 0 and lt[r["il_target_id"]][0] == 6
    ]
    return {
        "pages": [{"wiki": WIKI, "page_id": p["page_id"], "page_namespace": 0, "page_title": p["page_title"],
                   "is_redirect": bool(p["page_is_redirect"])} for p in sorted(pages.values(), key=lambda p: p["page_id"])],
        "article_images": sorted(images, key=lambda r: (r["page_id"], r["file_name"])),
        "article_categories": sorted(
            ({"wiki": WIKI, "page_id": r["cl_from"], "category": lt[r["cl_target_id"]][1]}
             for r in wiki["categorylinks"] if r["cl_from"] in pages and lt[r["cl_target_id"]][0] == 14),
            key=lambda r: (r["page_id"], r["category"]),
        ),
        "files": sorted(
            ({"wiki": COMMONS, "file_name": r["img_name"], "size": r["img_size"], "width": r["img_width"],
              "height": r["img_height"], "media_type": r["img_media_type"],
              "mime": f"{r['img_major_mime']}/{r['img_minor_mime']}",
              "sha1": f"{r['img_description_id'] + 1:040x}", "timestamp": r["img_timestamp"]}
             for r in tables[COMMONS]["image"]),
            key=lambda r: r["file_name"].encode(),
        ),
        "article_items": [
            {"wiki": WIKI, "page_id": r["pp_page"], "item": r["pp_value"]}
            for r in sorted(wiki["page_props"], key=lambda r: r["pp_page"])
            if r["pp_propname"] == "wikibase_item" and r["pp_page"] in pages
            and not pages[r["pp_page"]]["page_is_redirect"] and re.fullmatch(r"Q[1-9][0-9]*", r["pp_value"])
        ],
    }


@pytest.fixture
def tiny() -> dict[str, dict[str, list[dict[str, Any]]]]:
    return tiny_tables()


@pytest.fixture
def replica_settings(settings):
    """Settings whose SQLite replicas hold the tiny wiki (current schema)."""
    from wikivis.mirror.replica_loader import load_replica

    for wiki, tables in tiny_tables().items():
        load_replica(tables, settings.replica_url(wiki), wiki)
    return settings


def no_sleep(_seconds: float) -> None:
    return None
