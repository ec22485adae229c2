"""Wikidata and a second-language wiki, derived from the sample wiki (additively).

The sample wiki's own tables, events and digest are untouched: everything here is a pure
function of ``sample.state(day)`` plus random streams seeded from ``(seed, "wikidata", …)``
and ``(seed, "sample2wiki", …)``, so other code that depends on the sample stays
byte-identical.

* **Items.**  Every article of samplewiki that has ``page_props.wikibase_item`` is an item
  (``Q{1_000_000 + 7·page_id}``) with an English label, ``P31`` (instance of) its topic's
  class (the same Q-ids the Commons files' *depicts* use, e.g. Q5113 "bird"), a ``P18``
  image on about half of the items, a ``P373`` Commons category on about 40 %, and
  sitelinks: always samplewiki, and :data:`SECOND_WIKI` on about half.  The topic classes
  themselves are items too, with labels but **no sitelinks** (they exercise "item without
  sitelinks").  P18 is the article's own PageImages lead image most of the time when the
  article is illustrated (that is what editors do), otherwise another file of the topic;
  half of sample2wiki's articles about an item with P18 lead with that image;
  P373 is the topic's Commons category, whose files are all the topic's files.
* **sample2wiki** (wiki :data:`SECOND_WIKI`, database name ``sample2wiki``): one article
  per sitelinked item, with its own page ids, the item in ``page_props.wikibase_item`` and a
  lead image that is often one of samplewiki's article images (cross-wiki lead) and
  otherwise a file of the same topic.  Its tables have samplewiki's schema (``page``,
  ``linktarget``, ``imagelinks``, ``page_props``, ``categorylinks``), so the mirror serves
  its dumps and its Action API like samplewiki's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from wikivis.sample.generator import SHARED_ICONS, TOPICS, SampleWiki, _rng
from wikivis.vocab import NS_CATEGORY, NS_FILE, NS_MAIN

SECOND_WIKI = "sample2wiki"
#: share of items with a sitelink to :data:`SECOND_WIKI`
SITELINK_SHARE = 0.5
P18_SHARE = 0.55
P373_SHARE = 0.4
#: share of P18 claims naming the article's own lead image (when it has one)
P18_TRUE_SHARE = 0.85
#: share of sample2wiki leads that are one of samplewiki's article images
CROSSWIKI_TRUE_SHARE = 0.6
#: share of sample2wiki articles (about an item with P18) whose lead is the P18 image
CROSSWIKI_P18_SHARE = 0.5
SECOND_PAGE_ID_BASE = 50_000

CLASS_LABELS = {
    "Q5113": "bird", "Q8502": "mountain", "Q41176": "building", "Q11446": "ship", "Q506": "flower",
    "Q1390": "insect", "Q3305213": "painting", "Q12280": "bridge", "Q1420": "automobile", "Q4006": "map",
}


@dataclass(frozen=True)
class Item:
    """One Wikidata item of the sample: claims are plain values per property."""

    id: str
    label: str
    instance_of: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # P18 file names (DB keys, underscores)
    commons_category: str | None = None  # P373 (spaces, no namespace, as Wikidata stores it)
    sitelinks: dict[str, str] = field(default_factory=dict)  # wiki -> title (spaces)
    topic: str | None = None


@dataclass(frozen=True)
class WikidataState:
    """Items and the second wiki's tables after one sample day."""

    day: int
    items: dict[str, Item]
    second_tables: dict[str, list[dict[str, Any]]]


_CACHE: dict[tuple[int, int], WikidataState] = {}
_LOCK = threading.Lock()


def wikidata_state(sample: SampleWiki, day: int | None = None) -> WikidataState:
    """The sample's Wikidata and sample2wiki as of ``day`` (default: the last day)."""
    day = sample.n_days if day is None else day
    key = (id(sample), day)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None or hit.day != day:
            hit = _build(sample, day)
            _CACHE[key] = hit
        return hit


def _topic_files(sample: SampleWiki, tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    live = {r["img_name"] for r in tables["image"]}
    by_topic: dict[str, list[str]] = {}
    for name, topic in sorted(sample.file_topics.items()):
        if name in live and topic != "icons" and not sample.file_info[name]["non_free"]:
            by_topic.setdefault(topic, []).append(name)
    return by_topic


def _build(sample: SampleWiki, day: int) -> WikidataState:
    tables = sample.state(day).tables
    props: dict[int, dict[str, str]] = {}
    for row in tables["page_props"]:
        props.setdefault(row["pp_page"], {})[row["pp_propname"]] = row["pp_value"]
    lt = {r["lt_id"]: r["lt_title"] for r in tables["linktarget"]}
    images: dict[int, list[str]] = {}
    for row in tables["imagelinks"]:
        images.setdefault(row["il_from"], []).append(lt[row["il_target_id"]])
    by_topic = _topic_files(sample, tables)
    icons = set(SHARED_ICONS)

    items: dict[str, Item] = {}
    for class_id, label in CLASS_LABELS.items():
        items[class_id] = Item(class_id, label)
    second: list[tuple[int, str, str, list[str], str | None]] = []  # page_id, title, item, images, topic
    for page in tables["page"]:
        if page["page_namespace"] != NS_MAIN or page["page_is_redirect"]:
            continue
        pid = page["page_id"]
        item_id = props.get(pid, {}).get("wikibase_item")
        if not item_id:
            continue
        qid = item_id
        topic = sample.page_topics.get(pid)
        pool = by_topic.get(topic or "", [])
        lead = props[pid].get("page_image_free")
        own = sorted(f for f in images.get(pid, []) if f not in icons and f in sample.file_info)
        rng = _rng(sample.seed, "wikidata", pid)
        p18: tuple[str, ...] = ()
        if rng.random() < P18_SHARE and (lead or pool):
            p18 = (lead,) if lead and rng.random() < P18_TRUE_SHARE else (rng.choice(pool) if pool else lead or "",)
        p373 = None
        if rng.random() < P373_SHARE and topic:
            p373 = TOPICS[topic][0].replace("_", " ")
        title = page["page_title"].replace("_", " ")
        sitelinks = {sample.wiki: title}
        if rng.random() < SITELINK_SHARE:
            srng = _rng(sample.seed, "sample2wiki", pid)
            if p18 and p18[0] and srng.random() < CROSSWIKI_P18_SHARE:
                first: str = p18[0]  # many wikis lead with the item's P18 image
            elif (own or lead) and srng.random() < CROSSWIKI_TRUE_SHARE:
                first = lead if lead and srng.random() < 0.7 else srng.choice(own or [lead or ""])
            else:
                first = srng.choice(pool) if pool else ""
            extra = [f for f in srng.sample(pool, min(len(pool), srng.randint(0, 2)))] if pool else []
            files = [f for f in dict.fromkeys([first, *extra]) if f]
            sitelinks[SECOND_WIKI] = title
            second.append((pid, page["page_title"], qid, files, topic))
        classes = (TOPICS[topic][1][0],) if topic else ()
        items[qid] = Item(qid, title, classes, tuple(f for f in p18 if f), p373, sitelinks, topic)
    return WikidataState(day, items, _second_tables(second, sample))


def _second_tables(
    pages: list[tuple[int, str, str, list[str], str | None]], sample: SampleWiki
) -> dict[str, list[dict[str, Any]]]:
    """samplewiki-shaped tables for sample2wiki (rows in primary-key order)."""
    targets: dict[tuple[int, str], int] = {}

    def target(ns: int, title: str) -> int:
        return targets.setdefault((ns, title), len(targets) + 1)

    page_rows, il, pp, cl = [], [], [], []
    free = sample.free_files()
    for src_id, title, qid, files, topic in sorted(pages):
        page_id = SECOND_PAGE_ID_BASE + src_id
        rng = _rng(sample.seed, "sample2wiki", "page", src_id)
        page_rows.append({
            "page_id": page_id, "page_namespace": NS_MAIN, "page_title": title, "page_is_redirect": 0,
            "page_is_new": 0, "page_random": round(rng.random(), 12), "page_touched": "20261020000000",
            "page_links_updated": "20261020000000", "page_latest": 9_000_000 + src_id, "page_len": rng.randint(500, 9000),
            "page_content_model": "wikitext", "page_lang": None,
        })
        for t in sorted({target(NS_FILE, f) for f in files}):
            il.append({"il_from": page_id, "il_from_namespace": NS_MAIN, "il_target_id": t})
        page_props = {"wikibase_item": qid}
        if files:
            page_props["page_image"] = files[0]
            lead_free = next((f for f in files if free.get(f, False)), None)
            if lead_free:
                page_props["page_image_free"] = lead_free
        for name, value in sorted(page_props.items()):
            pp.append({"pp_page": page_id, "pp_propname": name, "pp_value": value, "pp_sortkey": None})
        if topic:
            cl.append({
                "cl_from": page_id, "cl_sortkey": title.replace("_", " ").upper(), "cl_timestamp": "2026-10-20 00:00:00",
                "cl_sortkey_prefix": "", "cl_type": "page", "cl_collation_id": 1,
                "cl_target_id": target(NS_CATEGORY, TOPICS[topic][0]),
            })
    linktarget = [
        {"lt_id": i, "lt_namespace": ns, "lt_title": t} for (ns, t), i in sorted(targets.items(), key=lambda kv: kv[1])
    ]
    return {"page": page_rows, "linktarget": linktarget, "imagelinks": il, "page_props": pp, "categorylinks": cl}


def second_wiki_tables(sample: SampleWiki, day: int) -> dict[str, list[dict[str, Any]]]:
    return wikidata_state(sample, day).second_tables
