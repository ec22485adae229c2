"""The nightly DAG on a distributed deployment: API server, scheduler, DAG processor and
triggerer on PostgreSQL, two Celery workers on Redis (one serving only queue ``gpu``), each a
separate process (``deployment.py``), against the local Wikimedia mirror.

1. One interval of ``wikivis_nightly`` is triggered through the REST API and run by the
   scheduler: the run succeeds, ``embed`` runs on the ``gpu`` worker and every other task on
   the default worker, the datasets and the index are published, and the monitoring page of
   the deployment shows the stages and the HTTP counters of every Wikimedia client.
2. ``airflow backfill create`` over the next interval, run by the scheduler: the lake ends
   exactly as the nightly's tasks called in order for the same dates leave it (every
   snapshot's content hash and every ``current`` pointer), and the index holds as many vectors.

Every process is stopped at the end.  Select it with ``-m distributed`` (~6 min on 2 cores:
~1 min start-up, ~2 min per interval; thumbnails are capped at ``MAX_IMAGES``).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.airflow.deployment import Deployment
from wikivis.testing import engine_or_skip, postgres_url, redis_url, require_service

pytestmark = [pytest.mark.integration, pytest.mark.distributed, pytest.mark.slow]

MAX_IMAGES = 40
RUN_TIMEOUT_S = 480
DAG_ID = "wikivis_nightly"


def _services() -> tuple[str, str]:
    import sqlalchemy as sa

    url = sa.engine.make_url(postgres_url())
    engine_or_skip(url.render_as_string(hide_password=False), "PostgreSQL")
    auth = url.username + (f":{url.password}" if url.password else "")
    server = f"postgresql://{auth}@{url.host}:{url.port or 5432}"
    redis_server = redis_url().rsplit("/", 1)[0] if redis_url().count("/") > 2 else redis_url()
    try:
        import redis

        redis.Redis.from_url(redis_server).ping()
    except Exception as exc:
        require_service(f"Redis not reachable at {redis_server}: {exc.__class__.__name__}: {exc}")
    return server.rstrip("/"), redis_server


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, mirror, sample_wiki):
    from wikivis.demo import _env_for

    pg_server, redis_server = _services()
    home = tmp_path_factory.mktemp("distributed")
    settings = mirror.settings(home=home / "wikivis", max_images=MAX_IMAGES, gate_max_snapshot_age_days=0)
    deployment = Deployment(home=home / "airflow", pg_server_url=pg_server, redis_url=redis_server,
                            wikivis_env={})
    # the run catalog and the lake's Iceberg catalog live in PostgreSQL, as in docker-compose
    settings = settings.replace(
        catalog_url=f"{pg_server.replace('postgresql://', 'postgresql+psycopg://')}/{deployment.catalog_db}")
    deployment.wikivis_env = {**_env_for(settings), "WIKIVIS_CATALOG_URL": settings.catalog_url}
    deployment.create_databases()
    try:
        deployment.migrate()
        deployment.start_all()
        yield deployment, settings
    finally:
        deployment.stop()


def _wait_for_dag(deployment: Deployment, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        deployment.check_alive()
        if deployment.metadata("SELECT 1 FROM serialized_dag WHERE dag_id = %s", DAG_ID):
            return
        time.sleep(2)
    raise AssertionError(f"{DAG_ID} was not parsed within {timeout_s} s:\n{deployment.log_tail('dag-processor')}")


def _tasks(deployment: Deployment, run_id: str) -> list[tuple]:
    return deployment.metadata(
        "SELECT task_id, map_index, state, hostname, queue FROM task_instance WHERE dag_id = %s AND run_id = %s",
        DAG_ID, run_id,
    )


def _check_workers(tis: list[tuple]) -> None:
    embed = [t for t in tis if t[0] == "embed"]
    assert embed and all(t[2] == "success" for t in embed)
    assert {(t[3], t[4]) for t in embed} == {("wikivis-gpu-worker", "gpu")}  # the GPU worker, nowhere else
    assert {t[3] for t in tis if t[0] != "embed" and t[2] == "success"} == {"wikivis-cpu-worker"}


def _wait_for_run(deployment: Deployment, run_id: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state = "?"
    while time.monotonic() < deadline:
        deployment.check_alive()
        [(state,)] = deployment.metadata("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", DAG_ID, run_id)
        if state in ("success", "failed"):
            return str(state)
        retrying = deployment.metadata(
            "SELECT task_id, map_index FROM task_instance WHERE dag_id = %s AND run_id = %s AND state = 'up_for_retry'",
            DAG_ID, run_id)
        if retrying:  # a retry waits minutes (exponential backoff): report the first failure now
            task_id, map_index = retrying[0]
            logs = sorted((deployment.home / "logs").glob(f"dag_id={DAG_ID}/run_id={run_id}/task_id={task_id}/**/*.log"))
            raise AssertionError(f"{task_id}[{map_index}] failed and is waiting to retry:\n"
                                 + (logs[0].read_text(errors="replace")[-4000:] if logs else "(no log)"))
        time.sleep(3)
    tis = deployment.metadata("SELECT task_id, map_index, state, hostname FROM task_instance WHERE run_id = %s", run_id)
    raise AssertionError(f"run {run_id} still {state} after {RUN_TIMEOUT_S} s; tasks: {tis}\n"
                         + "\n".join(f"--- {n}\n{deployment.log_tail(n, 1500)}" for n in deployment.processes))


def test_the_nightly_runs_through_the_scheduler_with_embed_on_the_gpu_worker(deployment, sample_wiki):
    deployment, settings = deployment
    _wait_for_dag(deployment)
    start = datetime.strptime(sample_wiki.dates[0], "%Y%m%d").replace(tzinfo=UTC)
    run = deployment.api("POST", f"/dags/{DAG_ID}/dagRuns", {
        "dag_run_id": f"distributed__{start:%Y%m%d}",
        "logical_date": start.isoformat(),
        "data_interval_start": start.isoformat(),
        "data_interval_end": (start + timedelta(days=1)).isoformat(),
    })
    state = _wait_for_run(deployment, run["dag_run_id"])
    tis = _tasks(deployment, run["dag_run_id"])
    failed = [t for t in tis if t[2] not in ("success", "skipped")]
    assert state == "success", (failed, deployment.log_tail("worker-default"), deployment.log_tail("worker-gpu"))
    _check_workers(tis)

    from wikivis.lake import Lake

    lake = Lake.from_settings(settings)
    for dataset in ("pages", "article_images", "file_metadata", "media"):
        assert lake.current(dataset, "samplewiki") is not None, dataset
    pointer = json.loads((settings.index_root / settings.model / "current.json").read_text())
    assert pointer["version"]

    # the monitoring page of this deployment shows the run's stages and their HTTP counters
    status = json.loads(_get(deployment, "/wikivis/api/status"))
    stages = {s["stage"] for s in status["stage_runs"]}
    assert {"ingest", "events", "metadata", "media", "embed", "build_index", "publish"} <= stages
    clients = {h["client"] for h in status["http"]}
    assert {"dumps", "eventstreams", "action_api", "upload"} <= clients


def _get(deployment: Deployment, path: str) -> str:
    import urllib.request

    request = urllib.request.Request(f"{deployment.url}{path}", headers={"Authorization": f"Bearer {deployment.token()}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read().decode()


def test_airflow_backfill_create_ends_with_the_lake_of_the_nightly_runs(deployment, sample_wiki, mirror, tmp_path):
    from tests.dags.test_nightly_e2e import _lake_state, _replay_nightly
    from wikivis import pipeline

    deployment, settings = deployment
    _wait_for_dag(deployment)
    day = sample_wiki.dates[1]
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    deployment.airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", iso, "--to-date", iso)
    deadline = time.monotonic() + 60
    rows: list[tuple] = []
    while not rows and time.monotonic() < deadline:
        rows = deployment.metadata(
            "SELECT run_id FROM dag_run WHERE dag_id = %s AND run_type = 'backfill' AND logical_date::date = %s",
            DAG_ID, iso)
        time.sleep(1)
    assert rows, "airflow backfill create made no run"
    [(run_id,)] = rows
    state = _wait_for_run(deployment, run_id)
    tis = _tasks(deployment, run_id)
    assert state == "success", [t for t in tis if t[2] not in ("success", "skipped")]
    _check_workers(tis)

    # the same intervals, the nightly's tasks called in order, in a home of their own
    done = [d for d in sample_wiki.dates[:2] if deployment.metadata(
        "SELECT 1 FROM dag_run WHERE dag_id = %s AND state = 'success' AND data_interval_start::date = %s",
        DAG_ID, f"{d[:4]}-{d[4:6]}-{d[6:]}")]
    reference = mirror.settings(home=tmp_path / "reference", max_images=MAX_IMAGES, gate_max_snapshot_age_days=0)
    pipeline.use_settings(reference)
    try:
        _replay_nightly(reference, done)
    finally:
        pipeline.use_settings(None)
    assert _lake_state(settings) == _lake_state(reference)
    vectors = [json.loads((s.index_root / s.model / "current.json").read_text()) for s in (settings, reference)]
    index_sizes = []
    for s, pointer in zip((settings, reference), vectors, strict=True):
        meta = s.index_root / s.model / f"v-{pointer['version']}" / "meta.json"
        index_sizes.append(json.loads(meta.read_text())["n"])
    assert index_sizes[0] == index_sizes[1] > 0
