"""Concurrent writers and killed processes (issue #14's second and third failures).

Each worker is a separate process, as Airflow's tasks are; the old lake lost 34 of 45 such
writes because a writer deleted every other writer's staging directory."""

import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from wikivis.lake import Lake

from .conftest import WIKI, images

WRITES_PER_WORKER = 8


def _writer(root: str, worker: int, out: "mp.Queue[tuple[int, str | None]]") -> None:
    lake = Lake(root)
    for i in range(WRITES_PER_WORKER):
        label = f"202611{worker + 1:02d}T{i:02d}0000Z"
        try:
            m = lake.write("article_images", WIKI, label, images([(worker * 100 + i, f"{worker}-{i}.jpg")]),
                           run_id=f"run-{worker}")
            lake.publish_run(WIKI, {"article_images": label}, run_id=f"run-{worker}")
            out.put((m.rows, None))
        except Exception as exc:  # reported to the parent, which fails the test with it
            out.put((0, f"{type(exc).__name__}: {exc}"))


def test_three_processes_writing_and_publishing_one_table_lose_nothing(tmp_path):
    root = str(tmp_path / "lake")
    Lake(root).write("article_images", WIKI, "20261101", images([(1, "a.jpg")]), run_id="seed")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_writer, args=(root, w, queue)) for w in range(3)]
    for p in workers:
        p.start()
    results = [queue.get(timeout=300) for _ in range(3 * WRITES_PER_WORKER)]
    for p in workers:
        p.join(timeout=60)
    errors = [e for _, e in results if e]
    assert errors == []
    lake = Lake(root)
    labels = lake.snapshots("article_images", WIKI)
    assert len(labels) == 1 + 3 * WRITES_PER_WORKER  # no write lost
    for label in labels[1:]:
        assert lake.read("article_images", WIKI, label).num_rows == 1
    history = lake.history(WIKI)
    assert len(history) == 3 * WRITES_PER_WORKER  # no publication lost
    assert lake.read("article_images", WIKI).num_rows == 1
    # whatever order the publishers came in, readers never went back to older data and end on
    # the newest: a publication older than the one before it is recorded as superseded
    seen = [p.label("article_images") for p in reversed(history)]
    assert seen == sorted(seen) and seen[-1] == labels[-1]
    assert all(p.kind in ("publish", "superseded") for p in history)
    assert {p.label("article_images") for p in history if p.kind == "publish"} <= set(labels[1:])


CHILD = textwrap.dedent("""
    import os, sys
    import pyarrow as pa
    from wikivis.lake import Lake, iceberg, publications
    root, step = sys.argv[1], sys.argv[2]
    def die(*a, **k):
        os._exit(9)  # like SIGKILL: no finally, no cleanup
    rows = pa.table({"wiki": ["samplewiki"] * 3, "page_id": [7, 8, 9], "page_namespace": [0] * 3,
                     "page_title": ["P7", "P8", "P9"], "file_name": ["x.jpg"] * 3, "is_lead": [False] * 3})
    lake = Lake(root)
    if step == "mid-file":
        iceberg.ROW_GROUP_ROWS, iceberg.ROWS_PER_FILE = 1, 2
        real = iceberg._HashingStream.write
        calls = []
        def write(self, data):
            calls.append(1)
            if len(calls) > 3:
                die()
            return real(self, data)
        iceberg._HashingStream.write = write
    if step == "before-commit":
        iceberg.Lake._commit_partition = die
    if step == "after-branch":
        from pyiceberg.table import Transaction
        Transaction.__enter__ = die
    if step != "publish-only":
        lake.write("article_images", "samplewiki", "20261102", rows, run_id="second")
    if step == "write-done":
        die()
    if step == "before-record":
        publications.PublicationLog.record = die
    if step == "after-record":
        iceberg.Lake.sync_main = die
    lake.publish_run("samplewiki", {"article_images": "20261102"}, run_id="second")
""")

STEPS = ["mid-file", "before-commit", "after-branch", "write-done", "before-record", "after-record"]


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_every_step_of_a_write_and_a_publish(tmp_path, step):
    root = tmp_path / "lake"
    lake = Lake(root)
    lake.write("article_images", WIKI, "20261101", images([(1, "a.jpg")]), run_id="first")
    lake.publish_run(WIKI, {"article_images": "20261101"}, run_id="first")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    child = subprocess.run([sys.executable, "-c", CHILD, str(root), step], env=env, timeout=120)
    assert child.returncode == 9

    lake = Lake(root)
    published = lake.read("article_images", WIKI).column("page_id").to_pylist()
    if step == "after-record":
        assert published == [7, 8, 9]  # the row is the commit point; main is repaired below
    else:
        assert published == [1]  # readers are untouched
    # a rerun succeeds and publishes
    lake.write("article_images", WIKI, "20261102", images([(7, "x.jpg"), (8, "x.jpg"), (9, "x.jpg")]),
               run_id="second")
    lake.publish_run(WIKI, {"article_images": "20261102"}, run_id="second")
    assert lake.read("article_images", WIKI).column("page_id").to_pylist() == [7, 8, 9]
    main = lake._require("article_images").scan().to_arrow().column("page_id").to_pylist()
    assert sorted(main) == [7, 8, 9]
    # leftovers of the killed writer are orphans: swept, and nothing readable is lost
    lake.remove_orphan_files(older_than=timedelta(0))
    assert lake.read("article_images", WIKI).column("page_id").to_pylist() == [7, 8, 9]
    assert lake.read("article_images", WIKI, as_of="first").column("page_id").to_pylist() == [1]
