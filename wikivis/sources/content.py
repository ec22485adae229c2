"""Page texts and file captions from the Action API (a sibling of :mod:`wikivis.sources.commons`,
driving the same :class:`~wikivis.sources.commons.ActionApiClient`: same session, retry
policy, ≤ 3 concurrent requests, continuation protocol).

* :func:`page_contents` — ``prop=revisions&rvprop=ids|timestamp|content&rvslots=main`` for
  the pages events report as changed, **50 pages per request** (``pageids``/``titles``
  limit).  Without ``rvlimit`` the module is in "multiple pages" mode: one (current)
  revision per page; a batch whose texts exceed ``$wgAPIMaxResultSize`` (8 MiB) comes back
  in several rounds with ``rvcontinue``, pages of later rounds listed without revisions
  in earlier ones — rounds are merged per page before a page is yielded.  Without
  ``rvslots`` MediaWiki falls back to a deprecated layout (and warns); it is always sent.
* :func:`file_captions` — per file, its Commons structured-data captions (the
  MediaInfo entity ``M<file page id>``'s ``labels``, via ``action=wbgetentities``,
  50 ids per request) and its ``ImageDescription`` in every language
  (``iiextmetadatamultilang=1`` turns the value into ``{lang: html, "_type": "lang"}``; a
  description without language tags stays a plain string, kept as language ``und``).  Files without structured data
  come back ``missing`` from Wikibase: they simply have no labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from wikivis.errors import SourceError
from wikivis.sources.commons import (
    TITLES_PER_REQUEST,
    ActionApiClient,
    _batches,
    _normalized_map,
    file_name,
    file_title,
    merged_pages,
    page_batches,
    requested_page,
    strip_html,
)

#: ``wbgetentities`` accepts 50 ids per request without ``apihighlimits``
ENTITIES_PER_REQUEST = 50
#: BCP 47 "undetermined": a description not tagged with a language (no ``{{en|…}}``)
UNDETERMINED = "und"


@dataclass(frozen=True)
class PageContent:
    """The current wikitext of one requested page (``problem``: missing | invalid | no_revision)."""

    requested: str | int
    page_id: int | None
    title: str
    namespace: int | None = None
    rev_id: int | None = None
    timestamp: str | None = None
    content: str | None = None
    content_model: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class FileCaptionTexts:
    """Captions of one Commons file: MediaInfo labels and ImageDescription, by language."""

    file_name: str
    page_id: int | None
    labels: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def page_contents(
    client: ActionApiClient, *, page_ids: Iterable[int] = (), titles: Iterable[str] = ()
) -> Iterator[PageContent]:
    """Current wikitext of each page, in batches of 50; one result per requested page."""
    params = {"prop": "revisions", "rvprop": "ids|timestamp|content", "rvslots": "main"}
    for batch_params, requested, by_id in page_batches(page_ids, titles):
        yield from _contents_batch(client, {**params, **batch_params}, requested, by_id=by_id)


def _contents_batch(client: ActionApiClient, params: dict[str, Any], requested: Sequence[Any], *, by_id: bool) -> Iterator[PageContent]:
    pages, normalized = merged_pages(client, params, by_id=by_id)
    for req in requested:
        page = requested_page(pages, normalized, req, by_id=by_id)
        if page is None or page.get("missing") or page.get("invalid"):
            problem = "invalid" if page and page.get("invalid") else "missing"
            yield PageContent(req, req if by_id else None, "" if page is None else page.get("title", ""), problem=problem)
            continue
        revisions = page.get("revisions") or []
        if not revisions:
            yield PageContent(req, page.get("pageid"), page.get("title", ""), page.get("ns"), problem="no_revision")
            continue
        rev = revisions[0]
        main = (rev.get("slots") or {}).get("main") or rev  # legacy layout without rvslots
        if "content" not in main:
            if main.get("texthidden") or main.get("missing"):
                yield PageContent(req, page.get("pageid"), page.get("title", ""), page.get("ns"), problem="no_revision")
                continue
            raise SourceError(f"revisions: no content for page {page.get('title')!r}", url=client.api_url)
        yield PageContent(
            requested=req,
            page_id=page.get("pageid"),
            title=page.get("title", ""),
            namespace=page.get("ns"),
            rev_id=rev.get("revid"),
            timestamp=rev.get("timestamp"),
            content=str(main.get("content") or ""),
            content_model=main.get("contentmodel"),
        )


def _description_by_language(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(lang): text for lang, html_text in value.items() if lang != "_type" and (text := strip_html(html_text))}
    text = strip_html(value)
    return {UNDETERMINED: text} if text else {}


def file_captions(client: ActionApiClient, names: Iterable[str]) -> Iterator[FileCaptionTexts]:
    """Labels and descriptions of each file (names or ``File:`` titles), in batches of 50."""
    params = {
        "prop": "imageinfo",
        "iiprop": "extmetadata",
        "iiextmetadatafilter": "ImageDescription",
        "iiextmetadatamultilang": "1",
    }
    for batch in _batches(dict.fromkeys(names), TITLES_PER_REQUEST):
        asked = {req: file_title(req) for req in batch}
        pages: dict[str, dict[str, Any]] = {}
        normalized: dict[str, str] = {}
        for body in client.query({**params, "titles": "|".join(dict.fromkeys(asked.values()))}):
            q = body.get("query") or {}
            normalized.update(_normalized_map(q))
            for page in q.get("pages") or ():
                merged = pages.setdefault(page.get("title", ""), {})
                for k, v in page.items():
                    if k == "imageinfo":
                        merged.setdefault("imageinfo", []).extend(v or ())
                    else:
                        merged[k] = v
        found: list[tuple[str, int | None, dict[str, str], str | None]] = []
        for req, title in asked.items():
            page = pages.get(normalized.get(title, title)) or {}
            name = file_name(req)
            if not page or (page.get("missing") and not page.get("imageinfo")) or page.get("invalid"):
                found.append((name, None, {}, "invalid" if page.get("invalid") else "missing"))
                continue
            infos = page.get("imageinfo") or [{}]
            ext = infos[0].get("extmetadata") or {}
            value = (ext.get("ImageDescription") or {}).get("value")
            found.append((name, page.get("pageid"), _description_by_language(value), None))
        labels = mediainfo_labels(client, [pid for _, pid, _, _ in found if pid])
        for name, pid, descriptions, problem in found:
            yield FileCaptionTexts(name, pid, labels.get(pid, {}) if pid else {}, descriptions, problem)


def mediainfo_labels(client: ActionApiClient, page_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """``wbgetentities`` on ``M<page id>``: page id → {language: label}; no entry without labels."""
    out: dict[int, dict[str, str]] = {}
    for batch in _batches(dict.fromkeys(int(p) for p in page_ids), ENTITIES_PER_REQUEST):
        body = client.call({"action": "wbgetentities", "ids": "|".join(f"M{p}" for p in batch), "props": "labels"})
        entities = body.get("entities")
        if not isinstance(entities, dict):
            raise SourceError("wbgetentities: no 'entities' object in the answer", url=client.api_url)
        for entity_id, entity in entities.items():
            if not isinstance(entity, dict) or "missing" in entity or not str(entity_id).startswith("M"):
                continue
            labels = entity.get("labels") or {}
            texts = {
                str(lang): str(label.get("value", "")).strip()
                for lang, label in (labels.items() if isinstance(labels, dict) else ())
                if isinstance(label, dict) and str(label.get("value", "")).strip()
            }
            if texts:
                out[int(str(entity_id)[1:])] = texts
    return out
