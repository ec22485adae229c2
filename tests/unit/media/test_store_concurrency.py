"""Two fetch tasks share one media store (issue #14): neither may delete the other's temp files."""

import hashlib
import multiprocessing as mp
import os
import time
from datetime import timedelta

from wikivis.media.store import MediaStore


def _fetcher(root: str, worker: int, out: "mp.Queue[str | None]") -> None:
    store = MediaStore(root)
    try:
        for i in range(150):
            data = os.urandom(20_000)
            sha1 = hashlib.sha1(f"{worker}-{i}".encode()).hexdigest()
            store.put(sha1, "jpg", data)
            store.clean_temporaries()  # what every fetch_media call does first
        out.put(None)
    except Exception as exc:
        out.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_fetches_into_one_store_never_clobber(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_fetcher, args=(str(tmp_path), w, queue)) for w in range(2)]
    for p in procs:
        p.start()
    errors = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert errors == [None, None]
    stored = [p for p in tmp_path.rglob("*.jpg") if not p.name.startswith(".")]
    assert len(stored) == 300


def test_cleanup_removes_only_old_temporaries(tmp_path):
    store = MediaStore(tmp_path)
    folder = tmp_path / "ab"
    folder.mkdir()
    old, young = folder / ".ab12.jpg.dead.tmp", folder / ".ab34.jpg.inflight.tmp"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    stale = time.time() - 7200
    os.utime(old, (stale, stale))
    assert store.clean_temporaries() == 1
    assert not old.exists() and young.exists()
    assert store.clean_temporaries(min_age=timedelta(0)) == 1
