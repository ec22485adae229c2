"""Build ``item_images`` and ``crosswiki_leads`` for one wiki snapshot from Wikidata.

Inputs: the snapshot's ``article_items`` (written by the dumps ingest or the replica pull).
Steps:

1. ``wbgetentities`` for every item, 50 per request (:class:`~wikivis.sources.wikidata.WikidataClient`);
   unknown (deleted, merged-away) items are counted, not fatal.
2. ``item_images``: one row per P18 file (``property = "P18"``, with the item's P373
   category alongside) and, when the item has a P373 Commons category, one row with
   ``file_name = ""`` and ``property = "P373"``.
3. ``crosswiki_leads``: for every sitelink to another Wikipedia (``Settings.crosswiki_wikis``
   when set, else every sitelinked ``…wiki`` except Commons/Wikidata/Meta/Species), that
   wiki's PageImages lead (``page_image_free``, the free one: a non-free lead cannot be
   suggested elsewhere) through its Action API, 50 titles per request.

Both datasets are written under the *article* wiki's name and snapshot (they describe
that wiki's items), nothing is published; :func:`wikivis.gates.stages.gate_wikidata`
checks them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from wikivis.datasets import schema as dataset_schema
from wikivis.sources.wikidata import Entity, WikidataClient

if TYPE_CHECKING:
    from wikivis.config import Settings
    from wikivis.lake import Lake
    from wikivis.sources.commons import ActionApiClient

NOT_ARTICLE_WIKIS = frozenset({"commonswiki", "wikidatawiki", "metawiki", "specieswiki", "mediawikiwiki"})


@dataclass
class WikidataIngestResult:
    wiki: str
    snapshot: str
    rows: dict[str, int]
    counters: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"wiki": self.wiki, "snapshot": self.snapshot, "rows": dict(self.rows), **self.counters}


def build_item_images(entities: Iterable[Entity]) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for e in entities:
        if e.missing:
            continue
        for name in e.images:
            rows.append({"item": e.id, "file_name": name, "property": "P18", "commons_category": e.commons_category})
        if e.commons_category:
            rows.append({"item": e.id, "file_name": "", "property": "P373", "commons_category": e.commons_category})
    rows.sort(key=lambda r: (int(r["item"][1:]), r["file_name"]))
    return pa.Table.from_pylist(rows, schema=dataset_schema("item_images"))


def other_wikis(entity: Entity, home: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """Sitelinks of ``entity`` to article wikis other than ``home``."""
    return {
        w: t for w, t in entity.sitelinks.items()
        if w != home and (w in allowed if allowed else (w.endswith("wiki") and w not in NOT_ARTICLE_WIKIS))
    }


def build_crosswiki_leads(
    entities: Iterable[Entity], home: str, api_for: Callable[[str], ActionApiClient], *, allowed: tuple[str, ...] = ()
) -> tuple[pa.Table, dict[str, int]]:
    """Lead images of the items' articles on other wikis (one Action API client per wiki)."""
    wanted: dict[str, dict[str, str]] = {}  # wiki -> title -> item
    for e in entities:
        if e.missing:
            continue
        for wiki, title in other_wikis(e, home, allowed).items():
            wanted.setdefault(wiki, {})[title] = e.id
    rows: list[dict[str, Any]] = []
    counters = {"crosswiki_titles": 0, "crosswiki_missing": 0, "crosswiki_without_lead": 0}
    for wiki in sorted(wanted):
        titles = wanted[wiki]
        counters["crosswiki_titles"] += len(titles)
        for info in api_for(wiki).page_images(titles=list(titles)):
            item = titles.get(str(info.requested))
            if info.problem or info.page_id is None or item is None:
                counters["crosswiki_missing"] += 1
                continue
            if not info.lead_image_free:
                counters["crosswiki_without_lead"] += 1
                continue
            rows.append({"item": item, "wiki": wiki, "page_id": info.page_id, "file_name": info.lead_image_free})
    rows.sort(key=lambda r: (int(r["item"][1:]), r["wiki"]))
    return pa.Table.from_pylist(rows, schema=dataset_schema("crosswiki_leads")), counters


def ingest_wikidata(
    settings: Settings,
    wiki: str,
    snapshot: str,
    *,
    lake: Lake | None = None,
    run_id: str | None = None,
    client: WikidataClient | None = None,
    api_for: Callable[[str], ActionApiClient] | None = None,
) -> WikidataIngestResult:
    """Write ``item_images`` and ``crosswiki_leads`` of ``wiki`` at ``snapshot`` (see module doc)."""
    from wikivis.lake import Lake
    from wikivis.sources.commons import ActionApiClient

    lake = lake if lake is not None else Lake.from_settings(settings)
    client = client or WikidataClient.from_settings(settings)
    apis: dict[str, ActionApiClient] = {}

    def default_api(w: str) -> ActionApiClient:
        if w not in apis:
            apis[w] = ActionApiClient.from_settings(settings, w)
        return apis[w]

    items = lake.read("article_items", wiki, snapshot, columns=["item"]).column("item").to_pylist()
    entities = list(client.entities(sorted(set(items), key=lambda q: int(q[1:]))))
    images = build_item_images(entities)
    leads, counters = build_crosswiki_leads(entities, wiki, api_for or default_api, allowed=settings.crosswiki_wikis)
    counters["unknown_items"] = sum(1 for e in entities if e.missing)
    counters["wikidata_requests"] = client.counters.requests
    inputs = (f"wikidata:{client.api.api_url}",)
    written = {
        "item_images": lake.write("item_images", wiki, snapshot, images, run_id=run_id, inputs=inputs),
        "crosswiki_leads": lake.write("crosswiki_leads", wiki, snapshot, leads, run_id=run_id, inputs=inputs),
    }
    return WikidataIngestResult(wiki, snapshot, {k: m.rows for k, m in written.items()}, counters)
