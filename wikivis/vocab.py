"""The shared vocabulary: names and id patterns every module agrees on, and the atomic file write.

Patterns are ASCII-only and matched with ``fullmatch``: Python's ``\\d`` also matches
full-width and other Unicode digits, and ``$`` matches before a trailing newline, so
``"１２３４５６７８"`` or ``"20261101\\n"`` would otherwise pass as dates and reach a URL.

* **wiki**: a MediaWiki database name (``enwiki``, ``commonswiki``, ``samplewiki``).
* **dataset**: a lake dataset name (``article_images``).
* **snapshot id** (a *label* in the lake): ``YYYYMMDD`` for a dump date, or
  ``YYYYMMDDTHHMMSSZ`` for the end of an events window.
* **run id**: what the orchestration derives from a DAG id, a wiki and an interval
  (``wikivis_nightly__samplewiki__20261106T000000Z``); letters, digits, ``_.:+-``.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from wikivis.errors import InputError

#: MediaWiki namespace numbers the pipeline uses (Main = articles, File, Category; User and
#: Project appear in the sample wiki's link tables)
NS_MAIN, NS_USER, NS_PROJECT, NS_FILE, NS_CATEGORY = 0, 2, 4, 6, 14

WIKI_RE = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
DATASET_RE = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
SNAPSHOT_RE = re.compile(r"\d{8}(T\d{6}Z)?", re.ASCII)
RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+\-]{0,199}", re.ASCII)


def check_wiki(wiki: str) -> str:
    if not isinstance(wiki, str) or not WIKI_RE.fullmatch(wiki):
        raise InputError(f"invalid wiki name {wiki!r} (lower-case ASCII letters, digits and _)")
    return wiki


def check_dataset(dataset: str) -> str:
    if not isinstance(dataset, str) or not DATASET_RE.fullmatch(dataset):
        raise InputError(f"invalid dataset name {dataset!r}")
    return dataset


def check_snapshot(snapshot: str) -> str:
    if not isinstance(snapshot, str) or not SNAPSHOT_RE.fullmatch(snapshot):
        raise InputError(f"invalid snapshot id {snapshot!r} (expected YYYYMMDD or YYYYMMDDTHHMMSSZ, ASCII digits)")
    return snapshot


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise InputError(f"invalid run id {run_id!r}")
    return run_id


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
