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
* **staged writes**: :func:`staged_path` (write under a name of this writer's own, then rename
  over the target) for writers that take a path (pyarrow, torch, faiss, a directory of files);
  :func:`atomic_write_bytes` / :func:`atomic_write_text` for bytes in memory. A test
  (``tests/unit/test_vocab_single_home.py``) keeps these the only definitions.

A bad id is a usage error (:class:`~wikivis.errors.ConfigError`, exit code 2).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from wikivis.errors import ConfigError

#: MediaWiki namespace numbers the pipeline uses (Main = articles, File, Category; User and
#: Project appear in the sample wiki's link tables)
NS_MAIN, NS_USER, NS_PROJECT, NS_FILE, NS_CATEGORY = 0, 2, 4, 6, 14

WIKI_RE = re.compile(r"[a-z][a-z0-9_]{1,40}", re.ASCII)  # also a DNS label of the replicas
#: a lower-case identifier: a lake dataset, a named SQL query, a replica database prefix
NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
DATASET_RE = NAME_RE
#: a dump date (``YYYYMMDD``)
DUMP_DATE_RE = re.compile(r"[0-9]{8}", re.ASCII)
#: an instant in UTC, to the second (``YYYYMMDDTHHMMSSZ``): an interval key, an events window end
INSTANT_RE = re.compile(rf"{DUMP_DATE_RE.pattern}T[0-9]{{6}}Z", re.ASCII)
#: a lake snapshot id: a dump date, or the instant an events delta ends (``YYYYMMDDTHHMMSSZ``)
SNAPSHOT_RE = re.compile(rf"(?P<date>{DUMP_DATE_RE.pattern})(?P<time>T[0-9]{{6}}Z)?", re.ASCII)
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


def is_wiki(value: object) -> bool:
    return isinstance(value, str) and WIKI_RE.fullmatch(value) is not None


def check_dataset(dataset: str) -> str:
    if not isinstance(dataset, str) or not DATASET_RE.fullmatch(dataset):
        raise ConfigError(f"invalid dataset name {dataset!r}")
    return dataset

def is_dump_date(value: object) -> bool:
    return isinstance(value, str) and DUMP_DATE_RE.fullmatch(value) is not None


def is_snapshot(value: object) -> bool:
    return isinstance(value, str) and SNAPSHOT_RE.fullmatch(value) is not None


def snapshot_time(snapshot: str | None) -> datetime | None:
    """``20261101`` or ``20261101T120000Z`` → an aware datetime; anything else → ``None``."""
    match = SNAPSHOT_RE.fullmatch(snapshot or "")
    if not match:
        return None
    stamp = match["date"] + (match["time"] or "T000000Z")
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


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


#: what :func:`staged_name` names look like: sweeps of crashed writers glob for it
STAGED_GLOB = ".*.tmp"


def staged_name(path: Path) -> Path:
    """The temporary name one writer of ``path`` stages under: hidden, next to ``path`` (same
    file system, so the rename is atomic), matching :data:`STAGED_GLOB`, and carrying a fresh uuid, so concurrent writers never share it."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


@contextmanager
def staged_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to (a file, or a directory of files);
    on success it is fsynced (a file) and renamed over ``path``, on failure removed.

    A reader sees the old content or the new, never a part. Renaming a directory over an
    existing non-empty directory fails: directory targets are for new paths."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = staged_name(path)
    try:
        yield tmp
        if tmp.is_file():
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a small file atomically (:func:`staged_path`): a reader sees one whole file, and
    of two concurrent writers the last rename wins."""
    with staged_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))
