"""Events → the set of pages and files whose lake rows must be re-read ("dirty").

EventStreams has no stream for image or category links (``page-links-change`` carries
pagelinks and external links only), so an event says *which* page changed, never *how* its
images changed.  The consumer collects the pages and files named by the window's events and
re-reads them (:mod:`wikivis.events.refresh`); whatever happened in between — several edits, a
move and a deletion — the re-read gives the state at the end.

Which events name what:

* **article wiki** (``database == wiki``), streams revision-create, page-create,
  page-properties-change (lead image: ``page_image``/``page_image_free``), page-delete,
  page-undelete (``prior_state.page_id`` may differ from the restored id), page-move (the
  moved page, and ``new_redirect_page`` left at the old title).  Only events touching
  namespace 0 matter (the datasets hold articles), counting a move's old namespace.  The
  article wiki's recentchange events repeat what those streams say and are ignored.
* **file wiki** (``commonswiki``), namespace 6: recentchange ``log_type`` upload (upload,
  overwrite, revert), delete (delete, restore, revision) and move (old title and
  ``log_params.target``); page-create/delete/undelete/move of a ``File:`` page.
* ``mediawiki.page_change.v1`` (the consolidated stream meant to replace the ones above; the
  wiki is ``wiki_id``, the page ``page.{page_id, namespace_id, page_title, is_redirect}``, a
  move's old state ``prior_state.page`` and its redirect ``created_redirect_page``): the same
  rules, for article pages and — create/delete/undelete/move kinds — ``File:`` pages.
* ``page_is_redirect`` of the newest event of a page is kept as a hint, for APIs that cannot
  say whether a page is a redirect (see :mod:`wikivis.events.refresh`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wikivis.sources import eventstreams
from wikivis.vocab import NS_FILE, NS_MAIN

PAGE_STREAMS = frozenset(eventstreams.PAGE_STREAMS)
#: on the file wiki (page_change.v1 edits of File: pages are description edits: ignored)
FILE_PAGE_STREAMS = frozenset({"mediawiki.page-create", "mediawiki.page-delete", "mediawiki.page-undelete", "mediawiki.page-move"})
FILE_LOG_TYPES = frozenset({"upload", "delete", "move"})
#: its kinds (create, edit, move, delete, undelete) are mapped onto "mediawiki.page-<kind>"
PAGE_CHANGE_STREAM = "mediawiki.page_change.v1"


def db_key(title: str, namespace: int | None = None) -> str:
    """``"File:Foo bar.jpg"`` (ns 6) → ``"Foo_bar.jpg"``; namespace 0 titles keep any colon."""
    if namespace not in (None, NS_MAIN) and ":" in title:
        title = title.split(":", 1)[1]
    return title.strip().replace(" ", "_")


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


@dataclass
class DirtySet:
    """Pages (by id, or by title when an event has no id) and files named by events."""

    wiki: str
    files_wiki: str
    pages: set[int] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    #: page_id → (meta.dt, page_is_redirect) of the newest event that said it
    redirect_hints: dict[int, tuple[str, bool]] = field(default_factory=dict)
    ignored: int = 0  # relevant events that named nothing the datasets hold

    def add(self, event: dict[str, Any]) -> bool:
        """Record what ``event`` names; False when it names nothing of interest."""
        meta = event.get("meta") or {}
        stream = meta.get("stream")
        if stream == PAGE_CHANGE_STREAM:
            event = _legacy_shape(event)
            stream = "mediawiki.page-" + str(event.get("page_change_kind"))
        wiki = event.get("database") if "database" in event else event.get("wiki")
        named = False
        if wiki == self.wiki and (stream in PAGE_STREAMS or stream == "mediawiki.page-edit"):  # page_change "edit"
            named = self._page_event(event, str(meta.get("dt") or ""))
        elif wiki == self.files_wiki:
            named = self._file_event(event, stream)
        if not named:
            self.ignored += 1
        return named

    def _page_event(self, event: dict[str, Any], dt: str) -> bool:
        prior = event.get("prior_state") or {}
        redirect = event.get("new_redirect_page") or {}
        namespace = _int(event.get("page_namespace"))
        namespaces = {namespace, _int(prior.get("page_namespace")) if "page_namespace" in prior else namespace}
        if redirect:
            namespaces.add(_int(redirect.get("page_namespace")))
        if NS_MAIN not in namespaces and None not in namespaces:
            return False
        page_id = _int(event.get("page_id"))
        named = page_id is not None
        if page_id is not None:
            self.pages.add(page_id)
            if isinstance(event.get("page_is_redirect"), bool):
                self._hint(page_id, dt, event["page_is_redirect"])
        elif isinstance(event.get("page_title"), str) and namespace in (NS_MAIN, None):
            self.titles.add(db_key(event["page_title"]))
            named = True
        prior_id = _int(prior.get("page_id"))
        if prior_id is not None:
            self.pages.add(prior_id)
        redirect_id = _int(redirect.get("page_id"))
        if redirect_id is not None:
            self.pages.add(redirect_id)
            self._hint(redirect_id, dt, True)
        return named or prior_id is not None or redirect_id is not None

    def _hint(self, page_id: int, dt: str, is_redirect: bool) -> None:
        previous = self.redirect_hints.get(page_id)
        if previous is None or previous[0] <= dt:
            self.redirect_hints[page_id] = (dt, is_redirect)

    def _file_event(self, event: dict[str, Any], stream: Any) -> bool:
        if stream == "mediawiki.recentchange":
            if event.get("type") != "log" or _int(event.get("namespace")) != NS_FILE:
                return False
            if event.get("log_type") not in FILE_LOG_TYPES or not isinstance(event.get("title"), str):
                return False
            self.files.add(db_key(event["title"], NS_FILE))
            target = (event.get("log_params") or {}).get("target") if isinstance(event.get("log_params"), dict) else None
            if event.get("log_type") == "move" and isinstance(target, str):
                self.files.add(db_key(target, NS_FILE))
            return True
        if stream in FILE_PAGE_STREAMS and _int(event.get("page_namespace")) == NS_FILE:
            if isinstance(event.get("page_title"), str):
                self.files.add(db_key(event["page_title"], NS_FILE))
            prior_title = (event.get("prior_state") or {}).get("page_title")
            if isinstance(prior_title, str):
                self.files.add(db_key(prior_title, NS_FILE))
            return True
        return False

    def redirect_hint(self, page_id: int) -> bool | None:
        hint = self.redirect_hints.get(page_id)
        return hint[1] if hint else None


def _legacy_shape(event: dict[str, Any]) -> dict[str, Any]:
    """A ``page_change.v1`` event in the field names of the legacy page streams."""
    page = event.get("page") or {}
    prior = (event.get("prior_state") or {}).get("page") or {}
    out: dict[str, Any] = {
        "meta": event.get("meta") or {},
        "database": event.get("wiki_id"),
        "page_change_kind": event.get("page_change_kind"),
        "page_id": page.get("page_id"),
        "page_namespace": page.get("namespace_id"),
        "page_title": page.get("page_title"),
    }
    if isinstance(page.get("is_redirect"), bool):
        out["page_is_redirect"] = page["is_redirect"]
    if prior:
        out["prior_state"] = {k2: prior[k1] for k1, k2 in
                              (("page_id", "page_id"), ("namespace_id", "page_namespace"), ("page_title", "page_title"))
                              if k1 in prior}
    redirect = event.get("created_redirect_page") or {}
    if redirect:
        out["new_redirect_page"] = {"page_id": redirect.get("page_id"), "page_namespace": redirect.get("namespace_id"),
                                    "page_title": redirect.get("page_title")}
    return out
