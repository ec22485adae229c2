"""EventStreams-shaped events for the sample wiki's history.

Shapes follow the Event Platform schemas (``$schema`` URIs below) and what
stream.wikimedia.org delivers: ``meta`` carries ``uri, request_id, id (uuid), dt, domain,
stream, topic, partition, offset``; MediaWiki streams name the wiki in ``database``,
``mediawiki.recentchange`` names it in ``wiki``.  Canary events (``meta.domain ==
"canary"``) are sent to every stream by Wikimedia's monitoring and must be discarded by
consumers.  Topics here are the ``eqiad.`` ones; the mirror's EventStreams server adds the
``codfw.`` copies (same ``meta.id``) that multi-DC delivery produces.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from wikivis.config import wiki_domain

SCHEMAS = {
    "mediawiki.revision-create": "/mediawiki/revision/create/2.0.0",
    "mediawiki.page-create": "/mediawiki/revision/create/2.0.0",
    "mediawiki.page-properties-change": "/mediawiki/page/properties-change/1.0.0",
    "mediawiki.page-delete": "/mediawiki/page/delete/1.0.0",
    "mediawiki.page-undelete": "/mediawiki/page/undelete/1.0.0",
    "mediawiki.page-move": "/mediawiki/page/move/1.0.0",
    "mediawiki.recentchange": "/mediawiki/recentchange/1.0.1",
}
STREAMS = tuple(SCHEMAS)
NAMESPACE_PREFIX = {0: "", 2: "User:", 4: "Wikipedia:", 6: "File:", 14: "Category:"}


def iso(ts: int) -> str:
    """Unix seconds → ``2026-11-01T03:04:05Z`` (EventBus ``meta.dt`` form)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mw_timestamp(ts: int) -> str:
    """Unix seconds → MediaWiki's 14-digit ``YYYYMMDDHHMMSS``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d%H%M%S")


def prefixed(namespace: int, title: str) -> str:
    return NAMESPACE_PREFIX.get(namespace, "") + title


class EventFactory:
    """Builds events with deterministic uuids (from the generator's rng)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[dict[str, Any]] = []
        self._seq = 0
        self._log_id = 500_000
        self._rc_id = 9_000_000

    # ------------------------------------------------------------------ basics
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def emit(self, stream: str, ts: int, domain: str, uri: str, body: dict[str, Any]) -> dict[str, Any]:
        event = {
            "$schema": SCHEMAS[stream],
            "meta": {
                "uri": uri,
                "request_id": self._uuid(),
                "id": self._uuid(),
                "dt": iso(ts),
                "domain": domain,
                "stream": stream,
                "topic": f"eqiad.{stream}",
                "partition": 0,
            },
            **body,
        }
        event["_seq"] = self._seq  # stable tie-break; removed by finish()
        event["_ts"] = ts
        self._seq += 1
        self.events.append(event)
        return event

    def finish(self) -> list[dict[str, Any]]:
        """Events sorted by time, with per-topic Kafka offsets."""
        self.events.sort(key=lambda e: (e["_ts"], e["_seq"]))
        offsets: dict[str, int] = {}
        for e in self.events:
            topic = e["meta"]["topic"]
            e["meta"]["offset"] = offsets.get(topic, 0)
            offsets[topic] = e["meta"]["offset"] + 1
            del e["_seq"], e["_ts"]
        return self.events

    @staticmethod
    def performer(user: dict[str, Any]) -> dict[str, Any]:
        return {
            "user_text": user["name"],
            "user_groups": ["bot", "*", "user"] if user["bot"] else ["*", "user", "autoconfirmed"],
            "user_is_bot": user["bot"],
            "user_id": user["id"],
            "user_registration_dt": "2019-04-01T00:00:00Z",
            "user_edit_count": user["edits"],
        }

    @staticmethod
    def _page_uri(wiki: str, namespace: int, title: str) -> str:
        return f"https://{wiki_domain(wiki)}/wiki/{prefixed(namespace, title)}"

    # ------------------------------------------------------------------ mediawiki.*
    def revision(
        self,
        wiki: str,
        ts: int,
        page: Any,
        user: dict[str, Any],
        comment: str,
        *,
        parent_rev: int | None,
        created: bool = False,
    ) -> None:
        """revision-create (+ page-create when ``created``) and the recentchange edit/new."""
        domain = wiki_domain(wiki)
        body: dict[str, Any] = {
            "database": wiki,
            "page_id": page.page_id,
            "page_title": prefixed(page.namespace, page.title),
            "page_namespace": page.namespace,
            "page_is_redirect": page.is_redirect,
            "rev_id": page.rev_id,
            "rev_timestamp": iso(ts),
            "rev_sha1": format(self.rng.getrandbits(150), "031x")[:31],
            "rev_minor_edit": False,
            "rev_len": page.length,
            "rev_content_model": "wikitext",
            "rev_content_format": "text/x-wiki",
            "rev_content_changed": True,
            "performer": self.performer(user),
            "comment": comment,
            "parsedcomment": comment,
            "rev_slots": {
                "main": {
                    "rev_slot_content_model": "wikitext",
                    "rev_slot_sha1": format(self.rng.getrandbits(150), "031x")[:31],
                    "rev_slot_size": page.length,
                    "rev_slot_origin_rev_id": page.rev_id,
                }
            },
        }
        if parent_rev is not None:
            body["rev_parent_id"] = parent_rev
        uri = self._page_uri(wiki, page.namespace, page.title)
        if created:
            self.emit("mediawiki.page-create", ts, domain, uri, dict(body))
        self.emit("mediawiki.revision-create", ts, domain, uri, body)
        self.recentchange(
            wiki,
            ts,
            "new" if created else "edit",
            page.namespace,
            page.title,
            user,
            comment,
            revision={"new": page.rev_id, **({"old": parent_rev} if parent_rev else {})},
            length={"new": page.length},
        )

    def properties_change(
        self, wiki: str, ts: int, page: Any, user: dict[str, Any], before: dict[str, str], after: dict[str, str]
    ) -> bool:
        """page-properties-change: changed values appear in both added and removed (as EventBus does)."""
        added = {k: v for k, v in after.items() if before.get(k) != v}
        removed = {k: v for k, v in before.items() if after.get(k) != v}
        if not added and not removed:
            return False
        body: dict[str, Any] = {
            "database": wiki,
            "page_id": page.page_id,
            "page_title": prefixed(page.namespace, page.title),
            "page_namespace": page.namespace,
            "page_is_redirect": page.is_redirect,
            "rev_id": page.rev_id,
            "performer": self.performer(user),
        }
        if added:
            body["added_properties"] = added
        if removed:
            body["removed_properties"] = removed
        self.emit(
            "mediawiki.page-properties-change",
            ts,
            wiki_domain(wiki),
            self._page_uri(wiki, page.namespace, page.title),
            body,
        )
        return True

    def delete(self, wiki: str, ts: int, page: Any, user: dict[str, Any], comment: str) -> None:
        body = {
            "database": wiki,
            "page_id": page.page_id,
            "page_title": prefixed(page.namespace, page.title),
            "page_namespace": page.namespace,
            "page_is_redirect": page.is_redirect,
            "rev_id": page.rev_id,
            "rev_count": page.rev_count,
            "performer": self.performer(user),
            "comment": comment,
            "parsedcomment": comment,
        }
        self.emit(
            "mediawiki.page-delete", ts, wiki_domain(wiki), self._page_uri(wiki, page.namespace, page.title), body
        )
        self.recentchange(wiki, ts, "log", page.namespace, page.title, user, comment, log=("delete", "delete", {}))

    def undelete(self, wiki: str, ts: int, page: Any, user: dict[str, Any], comment: str) -> None:
        body = {
            "database": wiki,
            "page_id": page.page_id,
            "page_title": prefixed(page.namespace, page.title),
            "page_namespace": page.namespace,
            "page_is_redirect": page.is_redirect,
            "rev_id": page.rev_id,
            "prior_state": {"page_id": page.page_id},
            "performer": self.performer(user),
            "comment": comment,
            "parsedcomment": comment,
        }
        self.emit(
            "mediawiki.page-undelete", ts, wiki_domain(wiki), self._page_uri(wiki, page.namespace, page.title), body
        )
        self.recentchange(
            wiki,
            ts,
            "log",
            page.namespace,
            page.title,
            user,
            comment,
            log=("delete", "restore", {"count": {"revisions": page.rev_count, "files": 0}}),
        )

    def move(
        self,
        wiki: str,
        ts: int,
        page: Any,
        old_title: str,
        old_rev: int,
        redirect: Any | None,
        user: dict[str, Any],
        comment: str,
    ) -> None:
        body: dict[str, Any] = {
            "database": wiki,
            "page_id": page.page_id,
            "page_title": prefixed(page.namespace, page.title),
            "page_namespace": page.namespace,
            "page_is_redirect": page.is_redirect,
            "rev_id": page.rev_id,
            "prior_state": {
                "page_title": prefixed(page.namespace, old_title),
                "page_namespace": page.namespace,
                "rev_id": old_rev,
            },
            "performer": self.performer(user),
            "comment": comment,
            "parsedcomment": comment,
        }
        if redirect is not None:
            body["new_redirect_page"] = {
                "page_id": redirect.page_id,
                "page_title": prefixed(redirect.namespace, redirect.title),
                "page_namespace": redirect.namespace,
                "rev_id": redirect.rev_id,
            }
        self.emit("mediawiki.page-move", ts, wiki_domain(wiki), self._page_uri(wiki, page.namespace, page.title), body)
        params = {"target": prefixed(page.namespace, page.title), "noredir": "0" if redirect is not None else "1"}
        self.recentchange(wiki, ts, "log", page.namespace, old_title, user, comment, log=("move", "move", params))

    # ------------------------------------------------------------------ recentchange
    def recentchange(
        self,
        wiki: str,
        ts: int,
        rc_type: str,
        namespace: int,
        title: str,
        user: dict[str, Any],
        comment: str,
        *,
        revision: dict[str, int] | None = None,
        length: dict[str, int] | None = None,
        log: tuple[str, str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        domain = wiki_domain(wiki)
        full = prefixed(namespace, title)
        self._rc_id += 1
        body: dict[str, Any] = {
            "id": self._rc_id,
            "type": rc_type,
            "namespace": namespace,
            "title": full.replace("_", " "),
            "title_url": f"https://{domain}/wiki/{full}",
            "comment": comment,
            "timestamp": ts,
            "user": user["name"],
            "bot": user["bot"],
            "server_url": f"https://{domain}",
            "server_name": domain,
            "server_script_path": "/w",
            "wiki": wiki,
            "parsedcomment": comment,
        }
        if rc_type in ("edit", "new"):
            body["minor"] = False
            body["patrolled"] = True
            body["length"] = length or {}
            body["revision"] = revision or {}
        if log is not None:
            log_type, log_action, params = log
            self._log_id += 1
            body["id"] = None if log_type == "upload" else self._rc_id
            body.update(
                {
                    "log_id": self._log_id,
                    "log_type": log_type,
                    "log_action": log_action,
                    "log_params": params,
                    "log_action_comment": f"{log_action} [[{full.replace('_', ' ')}]]: {comment}",
                }
            )
        return self.emit("mediawiki.recentchange", ts, domain, f"https://{domain}/wiki/{full}", body)

    def upload(self, wiki: str, ts: int, file: Any, action: str, user: dict[str, Any], comment: str) -> dict[str, Any]:
        """recentchange log upload/overwrite for a Commons file (log_params carry img_sha1)."""
        from wikivis.datasets import hex_to_base36

        params = {"img_sha1": hex_to_base36(file.sha1) if file.sha1 else "", "img_timestamp": file.timestamp}
        return self.recentchange(wiki, ts, "log", 6, file.name, user, comment, log=("upload", action, params))

    # ------------------------------------------------------------------ noise
    def canary(self, stream: str, ts: int) -> None:
        body: dict[str, Any] = {
            "database": "canary",
            "page_id": 1,
            "page_title": "Canary",
            "page_namespace": 0,
            "rev_id": 1,
        }
        if stream == "mediawiki.recentchange":
            body = {
                "type": "edit",
                "namespace": 0,
                "title": "Canary",
                "wiki": "canary",
                "timestamp": ts,
                "user": "canary",
                "bot": True,
            }
        self.emit(stream, ts, "canary", "https://canary/wiki/Canary", body)
