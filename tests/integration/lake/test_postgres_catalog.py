"""The lake with its Iceberg SQL catalog on PostgreSQL (as in docker-compose), two processes
committing to one table at once."""

import multiprocessing as mp

import pyarrow as pa
import pytest

from wikivis.lake import Lake
from wikivis.testing import scratch_postgres_schema

pytestmark = pytest.mark.integration


def _rows(page: int) -> pa.Table:
    return pa.table({"wiki": ["samplewiki"], "page_id": [page], "page_namespace": [0], "page_title": [f"P{page}"],
                     "file_name": [f"{page}.jpg"], "is_lead": [True]})


@pytest.fixture
def pg_url():
    with scratch_postgres_schema("wvlake") as url:
        yield url


def _writer(root: str, url: str, worker: int, out: "mp.Queue[str | None]") -> None:
    try:
        lake = Lake(root, catalog_url=url)
        for i in range(5):
            label = f"2026110{worker + 1}T0{i}0000Z"
            lake.write("article_images", "samplewiki", label, _rows(worker * 10 + i), run_id=f"pg-{worker}")
            lake.publish_run("samplewiki", {"article_images": label}, run_id=f"pg-{worker}")
        out.put(None)
    except Exception as exc:
        out.put(f"{type(exc).__name__}: {exc}")


def test_two_processes_commit_through_a_postgres_catalog(tmp_path, pg_url):
    root = str(tmp_path / "lake")
    Lake(root, catalog_url=pg_url).write("article_images", "samplewiki", "20261101", _rows(1), run_id="seed")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(root, pg_url, w, queue)) for w in range(2)]
    for p in procs:
        p.start()
    errors = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert errors == [None, None]
    lake = Lake(root, catalog_url=pg_url)
    assert len(lake.snapshots("article_images", "samplewiki")) == 11
    assert len(lake.history("samplewiki")) == 10
    assert lake.read("article_images", "samplewiki").num_rows == 1


def test_concurrent_publishers_on_postgres_keep_every_dataset(pg_url):
    """Eight publishers of one wiki at once, each its own dataset: the latest names all eight."""
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    from wikivis.lake.publications import PublicationLog

    log = PublicationLog(sa.create_engine(pg_url, pool_size=8))

    def publish(n: int) -> None:
        log.record("samplewiki", {f"dataset{n}": {"label": f"l{n}", "snapshot_id": n}}, run_id=f"r{n}", kind="publish")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(publish, range(8)))

    assert sorted(log.latest("samplewiki").datasets) == sorted(f"dataset{n}" for n in range(8))
    assert len(log.history("samplewiki")) == 8
