"""The shared vocabulary: names and id patterns every module agrees on, and the atomic file write.

Patterns are ASCII-only, compiled with :data:`re.ASCII` and applied with ``fullmatch``:
Python's ``\\d`` also matches full-width and other Unicode digits (``１２３４５６７８`` is eight
digits to it, and sorts after every real date), and ``$`` matches before a trailing newline,
so ``"20261101\\n"`` would otherwise pass as a date and reach a URL.

* **wiki**: a MediaWiki database name (``enwiki``, ``commonswiki``, ``samplewiki``).
* **dataset**: a lake dataset name (``article_images``).
* **dump date**: ``YYYYMMDD``.
* **snapshot id** (a *label* in the lake): a dump date, or ``YYYYMMDDTHHMMSSZ`` for the end of
  an events window.
* **run id**: what the orchestration derives from a DAG id, a wiki and an interval
  (``wikivis_nightly__samplewiki__20261106T000000Z``).
* **namespaces**: the MediaWiki namespace numbers the pipeline uses.

A bad id is a usage error (:class:`~wikivis.errors.ConfigError`, exit code 2).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from wikivis.errors import ConfigError

#: MediaWiki namespace numbers the pipeline uses (Main = articles, File, Category; User and
#: Project appear in the sample wiki's link tables)
NS_MAIN, NS_USER, NS_PROJECT, NS_FILE, NS_CATEGORY = 0, 2, 4, 6, 14

WIKI_RE = re.compile(r"[a-z][a-z0-9_]{1,40}", re.ASCII)  # also a DNS label of the replicas
DATASET_RE = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
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


def check_wiki(wiki: str) -> str:
    """``wiki`` if it is a wiki database name (they end up in hostnames, paths and SQL)."""
    if not isinstance(wiki, str) or not WIKI_RE.fullmatch(wiki):
        raise ConfigError(f"not a valid wiki database name: {wiki!r} (expected e.g. 'enwiki')")
    return wiki


def check_dataset(dataset: str) -> str:
    if not isinstance(dataset, str) or not DATASET_RE.fullmatch(dataset):
        raise ConfigError(f"invalid dataset name {dataset!r}")
    return dataset

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a small file atomically: a temporary file named for this writer alone, fsync, rename.

    The temporary name carries a fresh uuid, so two processes writing the same path never
    touch each other's temporary file; the last rename wins and a reader sees one whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))
