"""Reference model of "apply events, then refresh the touched pages".

EventStreams has no stream for imagelinks or categorylinks changes (page-links-change
covers pagelinks and external links only), so an event consumer learns *which* pages
changed and re-reads their rows (API ``prop=images``/``pageprops`` or the replica).  This
module states that contract for the sample wiki and is what its tests check:

    refresh(state(d-1), state(d), touched(events of day d)) == state(d)   (resolved view)

Comparison is on the *resolved* view (link target ids replaced by namespace/title),
because linktarget ids are an implementation detail of one database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from wikivis.sources import eventstreams
from wikivis.vocab import NS_FILE

PAGE_STREAMS = set(eventstreams.PAGE_STREAMS)


@dataclass
class Touched:
    pages: set[int] = field(default_factory=set)
    files: set[str] = field(default_factory=set)


def touched_from_events(events: Iterable[dict[str, Any]], wiki: str, commons_wiki: str) -> Touched:
    """Pages of ``wiki`` and files of ``commons_wiki`` named by the events (canaries ignored)."""
    out = Touched()
    for e in events:
        meta = e.get("meta", {})
        if meta.get("domain") == "canary":
            continue
        stream = meta.get("stream")
        if stream in PAGE_STREAMS and e.get("database") == wiki:
            out.pages.add(int(e["page_id"]))
            if "new_redirect_page" in e:
                out.pages.add(int(e["new_redirect_page"]["page_id"]))
        elif (
            stream == "mediawiki.recentchange"
            and e.get("wiki") == commons_wiki
            and e.get("namespace") == NS_FILE
            and e.get("log_type") in ("upload", "delete")
        ):
            out.files.add(str(e["title"]).removeprefix("File:").replace(" ", "_"))
    return out


def events_between(events: Iterable[dict[str, Any]], start_dt: str, end_dt: str) -> list[dict[str, Any]]:
    """Events with ``start_dt <= meta.dt < end_dt`` (ISO strings compare in time order)."""
    return [e for e in events if start_dt <= e["meta"]["dt"] < end_dt]


def resolve(tables: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Replace link target ids by (namespace, title); key every table by its primary key."""
    lt = {r["lt_id"]: (r["lt_namespace"], r["lt_title"]) for r in tables.get("linktarget", [])}
    out: dict[str, Any] = {}
    if "page" in tables:
        out["page"] = {r["page_id"]: r for r in tables["page"]}
    if "imagelinks" in tables:
        out["imagelinks"] = {
            (r["il_from"], *lt[r["il_target_id"]]): r["il_from_namespace"] for r in tables["imagelinks"]
        }
    if "page_props" in tables:
        out["page_props"] = {
            (r["pp_page"], r["pp_propname"]): (r["pp_value"], r["pp_sortkey"]) for r in tables["page_props"]
        }
    if "categorylinks" in tables:
        out["categorylinks"] = {
            (r["cl_from"], *lt[r["cl_target_id"]]): {k: v for k, v in r.items() if k != "cl_target_id"}
            for r in tables["categorylinks"]
        }
    if "image" in tables:
        out["image"] = {r["img_name"]: r for r in tables["image"]}
    return out


def refresh(old: dict[str, Any], new: dict[str, Any], touched: Touched) -> dict[str, Any]:
    """Resolved ``old`` with every touched page's/file's rows replaced by those in ``new``."""
    result: dict[str, Any] = {}
    for table, rows in old.items():
        if table == "image":
            keep = {k: v for k, v in rows.items() if k not in touched.files}
            keep.update({k: v for k, v in new[table].items() if k in touched.files})
        else:

            def page_of(key: Any) -> int:
                return key if isinstance(key, int) else key[0]

            keep = {k: v for k, v in rows.items() if page_of(k) not in touched.pages}
            keep.update({k: v for k, v in new[table].items() if page_of(k) in touched.pages})
        result[table] = keep
    return result
