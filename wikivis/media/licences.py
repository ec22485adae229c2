"""Which files wikivis may fetch and redistribute: free licences and opt-out signals.

Commons only accepts free media, but article wikis host local non-free files (fair use),
and the API tells them apart by ``extmetadata``:

* ``NonFree`` — set (``"true"``) on files tagged with a non-free licence template;
* ``LicenseShortName`` — e.g. ``CC BY-SA 4.0``, ``Public domain``, ``Fair use``.

A file counts as non-free when ``NonFree`` is true *or* its licence name reads non-free
(fair use, non-free, NC/ND Creative Commons variants, "all rights reserved").  A file with
no licence name at all is *unknown*: with ``free_licences_only`` it is skipped too (reason
``licence_unknown``), because "we could not tell" must not mean "free".

Opt-out: a response carrying ``X-Robots-Tag: noai`` (or ``noimageai``, ``noindex``,
``noimageindex``) — unqualified or addressed to the ``wikivis`` agent token — is not used
(reason ``opt_out``), the same directives img2dataset honours by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

NON_FREE_NAME_RE = re.compile(
    r"fair[\s_-]*use|non[\s_-]*free|all rights reserved|copyrighted(?!\s+free)"
    r"|\bCC[\s_-]*BY(?:[\s_-]*SA)?[\s_-]*(?:NC|ND)\b|\bCC[\s_-]*(?:NC|ND)\b",
    re.IGNORECASE,
)
_TRUE = {"true", "1", "yes"}

OPT_OUT_DIRECTIVES = frozenset({"noai", "noimageai", "noindex", "noimageindex"})
AGENT_TOKEN = "wikivis"


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in _TRUE


def licence_problem(licence_short_name: str | None, non_free: Any) -> str | None:
    """``None`` when the file is free, else the skip reason (``not_free``/``licence_unknown``)."""
    if truthy(non_free):
        return "not_free"
    name = (licence_short_name or "").strip()
    if not name:
        return "licence_unknown"
    if NON_FREE_NAME_RE.search(name):
        return "not_free"
    return None


def is_non_free(extmetadata: Mapping[str, str]) -> bool:
    """The ``non_free`` column of ``file_metadata``: the NonFree flag or a non-free licence name."""
    name = extmetadata.get("LicenseShortName") or ""
    return truthy(extmetadata.get("NonFree")) or bool(NON_FREE_NAME_RE.search(name))


def robots_opt_out(header_values: Iterable[str], agent_token: str = AGENT_TOKEN) -> str | None:
    """The opt-out directive found in ``X-Robots-Tag`` values, or None.

    Each value is a comma-separated directive list, optionally prefixed by an agent token
    (``otherbot: noindex`` applies to ``otherbot`` only).
    """
    for value in header_values:
        scope: str | None = None
        for raw in value.split(","):
            part = raw.strip().lower()
            if ":" in part:
                head, _, tail = part.partition(":")
                # "unavailable_after: <date>" is a directive with an argument, not an agent
                if head.strip() not in {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}:
                    scope, part = head.strip(), tail.strip()
            if scope not in (None, agent_token):
                continue
            if part in OPT_OUT_DIRECTIVES:
                return part
    return None
