"""Strict, ASCII-only checks of the ids users and orchestrators pass in.

Python's ``\\d`` matches every Unicode decimal digit (``１２３４５６７８`` is eight digits to
it, and sorts after every real date), and ``$`` matches before a trailing newline (so
``re.match(r"^\\d{8}$", "20261101\\n")`` succeeds and the newline reaches a URL).  Every
pattern here is therefore written with explicit ASCII classes, compiled with
:data:`re.ASCII`, and applied with :meth:`re.Pattern.fullmatch`.
"""

from __future__ import annotations

import re

from wikivis.errors import ConfigError

#: a dump date (``YYYYMMDD``)
DUMP_DATE_RE = re.compile(r"[0-9]{8}", re.ASCII)
#: a lake snapshot id: a dump date, or the instant an events delta ends (``YYYYMMDDTHHMMSSZ``)
SNAPSHOT_RE = re.compile(r"[0-9]{8}(?:T[0-9]{6}Z)?", re.ASCII)
#: a run id (``wikivis_nightly__samplewiki__20261101T000000Z``, ``run-20261101T...-abc123``)
RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+=-]{0,254}", re.ASCII)
#: an e-mail address or an http(s) URL somewhere in a User-Agent contact
CONTACT_RE = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"|https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]+)?(?:/\S*)?",
    re.ASCII,
)


def is_dump_date(value: object) -> bool:
    return isinstance(value, str) and DUMP_DATE_RE.fullmatch(value) is not None


def is_snapshot(value: object) -> bool:
    return isinstance(value, str) and SNAPSHOT_RE.fullmatch(value) is not None


def check_dump_date(value: str, *, latest: bool = False) -> str:
    """``value`` if it is ``YYYYMMDD`` (or ``latest`` when allowed), else :class:`ConfigError`."""
    if (latest and value == "latest") or is_dump_date(value):
        return value
    expected = "YYYYMMDD or 'latest'" if latest else "YYYYMMDD"
    raise ConfigError(f"not a dump date: {value!r} (expected {expected}, ASCII digits)")


def check_snapshot(value: str) -> str:
    """``value`` if it is a snapshot id, else :class:`ConfigError`."""
    if is_snapshot(value):
        return value
    raise ConfigError(f"not a snapshot id: {value!r} (expected YYYYMMDD or YYYYMMDDTHHMMSSZ, ASCII digits)")


def check_run_id(value: str) -> str:
    """``value`` if it is a run id, else :class:`ConfigError` (an empty id is never "every run")."""
    if isinstance(value, str) and RUN_ID_RE.fullmatch(value):
        return value
    raise ConfigError(f"not a run id: {value!r} (see `wikivis status` for the run ids)")


def has_contact(contact: str) -> bool:
    """Whether a User-Agent contact contains an e-mail address or an http(s) URL."""
    return bool(contact) and CONTACT_RE.search(contact) is not None
