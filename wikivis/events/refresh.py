"""Re-read dirty pages and files through the Action API.

Pages (article wiki): one ``action=query`` per 50 page ids with
``prop=info|images|pageprops|categories`` (``imlimit``/``cllimit=max``,
``ppprop=page_image|page_image_free|wikibase_item``), following ``continue`` and merging the rounds per page
(every round lists all the batch's pages, only some carry the module being continued).  A page
the API reports ``missing`` is gone (deleted); ``ns`` and ``title`` give moves.

* ``prop=images`` reads imagelinks, red links included — the same rows as the dumps'
  ``imagelinks ⋈ linktarget(ns 6)``.  ``prop=categories`` lists hidden categories too, as
  categorylinks does.
* The lead flag: PageImages stores the chosen file in the page props ``page_image`` (any
  licence) and ``page_image_free``; a used file whose name is one of them is a lead image.
* ``prop=info`` says ``"redirect": true`` for a redirect.  An API that does not implement it
  (it answers with an "Unrecognized value for parameter prop" warning and pages without
  ``lastrevid``/``contentmodel`` — e.g. an older local mirror) gets no more ``info`` requests in
  the run, and the redirect flag falls back to the newest event's ``page_is_redirect``, then to
  the base snapshot.

Files (file wiki): ``prop=imageinfo`` with ``iiprop=timestamp|size|sha1|mime|mediatype`` per
50 titles; ``query.normalized`` maps the titles the API rewrote back to the names asked for.
No ``imageinfo`` (missing or deleted file) means the file has no row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from wikivis.errors import SourceError
from wikivis.events.apply import FileRow, PageState
from wikivis.events.dirty import db_key
from wikivis.sources.commons import TITLES_PER_REQUEST, ActionApiClient, file_title
from wikivis.sources.commons import _batches as batches  # shared with the Commons client
from wikivis.vocab import NS_CATEGORY, NS_FILE

LEAD_PROPS = ("page_image", "page_image_free")
#: page props read per page: the PageImages leads and the Wikidata item (article_items)
PAGE_PROPS = (*LEAD_PROPS, "wikibase_item")
PAGE_MODULES = ("info", "images", "pageprops", "categories")
IIPROP = "timestamp|size|sha1|mime|mediatype"


def _merge_rounds(client: ActionApiClient, params: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """All rounds of one query merged per page; plus ``{asked title: API title}``."""
    merged: dict[Any, dict[str, Any]] = {}
    normalized: dict[str, str] = {}
    for body in client.query(params):
        query = body.get("query") or {}
        for entry in query.get("normalized") or ():
            normalized[entry["from"]] = entry["to"]
        for page in query.get("pages") or ():
            key = page.get("pageid") or ("title", page.get("title"))
            into = merged.setdefault(key, {})
            for name, value in page.items():
                if isinstance(value, list):
                    into.setdefault(name, []).extend(value)
                elif isinstance(value, dict):
                    into.setdefault(name, {}).update(value)
                else:
                    into[name] = value
    return list(merged.values()), normalized


@dataclass
class PageFetch:
    states: dict[int, PageState | None] = field(default_factory=dict)
    missing_titles: set[str] = field(default_factory=set)
    info_supported: bool | None = None
    requests: int = 0


class PageReader:
    """Re-reads article pages; ``redirect_fallback(page_id)`` answers when ``prop=info`` can't."""

    def __init__(self, client: ActionApiClient, *, redirect_fallback: Callable[[int], bool]) -> None:
        self.client = client
        self.redirect_fallback = redirect_fallback
        self.result = PageFetch()

    def _params(self) -> dict[str, Any]:
        modules = [m for m in PAGE_MODULES if m != "info" or self.result.info_supported is not False]
        return {"prop": "|".join(modules), "imlimit": "max", "cllimit": "max", "ppprop": "|".join(PAGE_PROPS)}

    def read(self, page_ids: Iterable[int] = (), titles: Iterable[str] = ()) -> PageFetch:
        ids = sorted(set(page_ids))
        for batch in batches(ids, TITLES_PER_REQUEST):
            pages, _ = self._query({"pageids": "|".join(map(str, batch))})
            answered = set()
            for page in pages:
                if "pageid" in page:
                    answered.add(int(page["pageid"]))
                    self.result.states[int(page["pageid"])] = self._state(page)
            for page_id in batch:
                if page_id not in answered:
                    raise SourceError(f"the API did not answer for page id {page_id}", url=self.client.api_url)
        for batch in batches(sorted(set(titles)), TITLES_PER_REQUEST):
            pages, normalized = self._query({"titles": "|".join(t.replace("_", " ") for t in batch)})
            found = set()
            for page in pages:
                state = self._state(page)
                if state is not None:
                    self.result.states[state.page_id] = state
                    found.add(db_key(page.get("title", "")))
            asked = {db_key(normalized.get(t.replace("_", " "), t.replace("_", " "))): t for t in batch}
            self.result.missing_titles |= {original for key, original in asked.items() if key not in found}
        return self.result

    def _query(self, selector: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        params = {**self._params(), **selector}
        pages, normalized = _merge_rounds(self.client, params)
        self.result.requests += 1
        if "info" in params["prop"].split("|"):
            existing = [p for p in pages if not p.get("missing") and not p.get("invalid")]
            if existing and self.result.info_supported is None:
                self.result.info_supported = any("lastrevid" in p or "contentmodel" in p for p in existing)
        return pages, normalized

    def _state(self, page: dict[str, Any]) -> PageState | None:
        if page.get("missing") or page.get("invalid") or "pageid" not in page:
            return None
        page_id = int(page["pageid"])
        namespace = int(page.get("ns", 0))
        if self.result.info_supported:
            is_redirect = bool(page.get("redirect", False))
        else:
            is_redirect = self.redirect_fallback(page_id)
        props = page.get("pageprops") or {}
        return PageState(
            page_id=page_id,
            namespace=namespace,
            title=db_key(str(page.get("title", "")), namespace),
            is_redirect=is_redirect,
            files=tuple(dict.fromkeys(db_key(i["title"], NS_FILE) for i in page.get("images") or () if i.get("title"))),
            categories=tuple(
                dict.fromkeys(db_key(c["title"], NS_CATEGORY) for c in page.get("categories") or () if c.get("title"))
            ),
            lead_images=frozenset(str(props[p]) for p in LEAD_PROPS if props.get(p)),
            item=str(props["wikibase_item"]) if props.get("wikibase_item") else None,
        )


_NON_DIGITS = re.compile(r"\D")


def mw_timestamp(iso: str) -> str:
    """``2026-11-01T03:04:05Z`` → ``20261101030405`` (the ``img_timestamp`` form)."""
    digits = _NON_DIGITS.sub("", iso or "")
    if len(digits) < 14:
        raise ValueError(f"not an ISO timestamp: {iso!r}")
    return digits[:14]


def read_files(client: ActionApiClient, names: Iterable[str]) -> dict[str, FileRow | None]:
    """Current ``image`` rows of the given files (None: no such file / deleted)."""
    out: dict[str, FileRow | None] = {}
    for batch in batches(sorted(set(names)), TITLES_PER_REQUEST):
        asked = {file_title(name): name for name in batch}
        pages, normalized = _merge_rounds(client, {"prop": "imageinfo", "iiprop": IIPROP, "titles": "|".join(asked)})
        by_title = {p.get("title"): p for p in pages}
        for title, name in asked.items():
            page = by_title.get(normalized.get(title, title))
            if page is None:
                raise SourceError(f"imageinfo: the API did not answer for {title!r}", url=client.api_url)
            infos = page.get("imageinfo") or []
            if not infos:
                out[name] = None
                continue
            info = infos[0]
            try:
                out[name] = FileRow(
                    file_name=name,
                    size=int(info["size"]),
                    width=int(info.get("width") or 0),
                    height=int(info.get("height") or 0),
                    media_type=info.get("mediatype"),
                    mime=str(info["mime"]),
                    sha1=str(info["sha1"]).lower(),
                    timestamp=mw_timestamp(str(info["timestamp"])),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise SourceError(f"imageinfo for {title!r} lacks {exc}: {info!r}", url=client.api_url) from exc
    return out
