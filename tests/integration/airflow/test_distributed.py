"""The nightly DAG on a distributed deployment: API server, scheduler, DAG processor and
triggerer on PostgreSQL, Celery workers on Redis (one serving only queue ``gpu``), each a
separate process (``deployment.py``), against the local Wikimedia mirror.

1. One interval of ``wikivis_nightly`` is triggered through the REST API and run by the
   scheduler: the run succeeds, ``embed`` runs on the ``gpu`` worker and every other task on
   the default worker, the datasets and the index are published, and the monitoring page of
   the deployment shows the stages and the HTTP counters of every Wikimedia client.
2. One scenario (:func:`concurrent`), three tests: a second default worker joins;
   ``airflow backfill create --max-active-runs 1`` over the next three intervals; while the
   first backfill run's ``ingest`` runs (the mirror's dumps server is slowed so that it lasts),
   the worker running it is SIGKILLed with every process below it; then the nightly of the
   last date is triggered and runs *at the same time* as the backfill's runs, on the same wiki.

   * the scheduler finds the killed task without heartbeat (a 40 s timeout here), retries it on
     the surviving worker, and the run succeeds with one publication and the right rows;
   * the lake ends as the nightly's tasks called one interval after the other (oldest first)
     leave it: every snapshot's content hash, every ``current`` pointer, as many publications,
     readers never sent back to older data, and an index as large;
   * the backfill made three DAG runs, one at a time, each successful, each recorded in the
     wikivis catalog and on the monitoring page.

Every process is stopped at the end.  Select it with ``-m distributed`` (~12 min on 2 cores:
~1 min start-up, ~2 min per interval, ~1 min to find the lost worker; thumbnails are capped at
``MAX_IMAGES``).
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.airflow.deployment import Deployment
from wikivis.testing import engine_or_skip, postgres_url, redis_url, require_service

pytestmark = [pytest.mark.integration, pytest.mark.distributed, pytest.mark.slow,
              pytest.mark.timeout(1500)]  # the scenario fixture takes ~8 min on 2 cores

MAX_IMAGES = 40
RUN_TIMEOUT_S = 480
DAG_ID = "wikivis_nightly"
#: the scheduler fails a running task whose worker stopped heartbeating after this long (the
#: default, 300 s, is the production value); its retry waits TASK_RETRY_DELAY_S
HEARTBEAT_TIMEOUT_S = 40
TASK_RETRY_DELAY_S = 5
#: per-request delay of the mirror's dumps server while a worker is to be killed mid-``ingest``
DUMPS_LATENCY_S = 2.0
#: the Celery workers serving queue ``default``: process name → the hostname they report
CPU_WORKERS = {"worker-default": "wikivis-cpu-worker", "worker-default-b": "wikivis-cpu-worker-b"}


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
    from wikivis.config import settings_toml

    pg_server, redis_server = _services()
    home = tmp_path_factory.mktemp("distributed")
    settings = mirror.settings(home=home / "wikivis", max_images=MAX_IMAGES, gate_max_snapshot_age_days=0)
    deployment = Deployment(home=home / "airflow", pg_server_url=pg_server, redis_url=redis_server,
                            wikivis_env={}, airflow_env={
                                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
                                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5"})
    # the run catalog and the lake's Iceberg catalog live in PostgreSQL, as in docker-compose
    settings = settings.replace(
        catalog_url=f"{pg_server.replace('postgresql://', 'postgresql+psycopg://')}/{deployment.catalog_db}")
    settings = settings.replace(task_retry_delay_s=TASK_RETRY_DELAY_S)
    config = home / "wikivis.toml"
    config.write_text(settings_toml(settings), encoding="utf-8")
    deployment.wikivis_env = {"AIRFLOW__WIKIVIS__CONFIG_FILE": str(config)}  # what every task and DAG file reads
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


def _check_workers(tis: list[tuple], cpu_workers: frozenset[str] = frozenset({"wikivis-cpu-worker"})) -> None:
    embed = [t for t in tis if t[0] == "embed"]
    assert embed and all(t[2] == "success" for t in embed)
    assert {(t[3], t[4]) for t in embed} == {("wikivis-gpu-worker", "gpu")}  # the GPU worker, nowhere else
    assert {t[3] for t in tis if t[0] != "embed" and t[2] == "success"} <= cpu_workers


def _trigger(deployment: Deployment, day: str, run_id: str) -> str:
    """Trigger the nightly's interval starting on ``day`` (``YYYYMMDD``) through the REST API."""
    start = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
    run = deployment.api("POST", f"/dags/{DAG_ID}/dagRuns", {
        "dag_run_id": run_id,
        "logical_date": start.isoformat(),
        "data_interval_start": start.isoformat(),
        "data_interval_end": (start + timedelta(days=1)).isoformat(),
    })
    return str(run["dag_run_id"])


def _wait_for_run(deployment: Deployment, run_id: str, *, retries_expected: bool = False) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state = "?"
    while time.monotonic() < deadline:
        deployment.check_alive()
        [(state,)] = deployment.metadata("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", DAG_ID, run_id)
        if state in ("success", "failed"):
            return str(state)
        retrying = [] if retries_expected else deployment.metadata(
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
    run_id = _trigger(deployment, sample_wiki.dates[0], f"distributed__{sample_wiki.dates[0]}")
    state = _wait_for_run(deployment, run_id)
    tis = _tasks(deployment, run_id)
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


def _iso(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:]}"


@dataclass(frozen=True)
class Concurrent:
    """What the scenario did: DAG run ids, and the worker killed under which task."""

    settings: Any
    backfill: list[str]  # the backfill's DAG runs, oldest interval first
    nightly: str  # the nightly run that ran at the same time
    killed: str  # the worker process killed
    victim: str  # the task it was running (``ingest`` of the first backfill run)
    states: dict[str, str]  # DAG run id → final state


def _wait_for_task(deployment: Deployment, run_id: str, task_id: str) -> str:
    """The hostname of the worker once ``task_id`` of ``run_id`` runs."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        deployment.check_alive()
        running = deployment.metadata(
            "SELECT hostname FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s "
            "AND state = 'running' AND hostname <> ''", DAG_ID, run_id, task_id)
        if running:
            return str(running[0][0])
        time.sleep(0.5)
    raise AssertionError(f"{task_id} of {run_id} never ran: {_tasks(deployment, run_id)}")


@pytest.fixture(scope="module")
def concurrent(deployment, sample_wiki, mirror) -> Concurrent:
    deployment, settings = deployment
    _wait_for_dag(deployment)
    deployment.start_worker("worker-default-b", "default", "cpu_b")
    days = sample_wiki.dates[1:4]
    mirror.dumps.latency_s = DUMPS_LATENCY_S  # ingest lasts long enough to lose its worker
    try:
        deployment.airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", _iso(days[0]),
                           "--to-date", _iso(days[-1]), "--max-active-runs", "1")
        backfill = [str(r[0]) for r in deployment.metadata(
            "SELECT run_id FROM dag_run WHERE dag_id = %s AND backfill_id IS NOT NULL ORDER BY logical_date", DAG_ID)]
        assert len(backfill) == 3, backfill
        host = _wait_for_task(deployment, backfill[0], "ingest")
        [killed] = [name for name, h in CPU_WORKERS.items() if h == host]
        deployment.kill(killed)
    finally:
        mirror.dumps.latency_s = 0.0
    nightly = _trigger(deployment, sample_wiki.dates[4], f"distributed__{sample_wiki.dates[4]}")
    states = {run: _wait_for_run(deployment, run, retries_expected=run == backfill[0]) for run in [*backfill, nightly]}
    return Concurrent(settings, backfill, nightly, killed, "ingest", states)


@pytest.fixture(scope="module")
def sequential(concurrent, sample_wiki, mirror, tmp_path_factory) -> Any:
    """The nightly's tasks called for every date the deployment ran, one interval after the
    other, oldest first, in a home of their own."""
    from tests.dags.test_nightly_e2e import _replay_nightly

    reference = mirror.settings(home=tmp_path_factory.mktemp("sequential"), max_images=MAX_IMAGES,
                                gate_max_snapshot_age_days=0)
    _replay_nightly(reference, list(sample_wiki.dates[:5]))
    return reference


def _wikivis_run(dag_run_start: datetime, wiki: str) -> str:
    from wikivis.stages.run import run_id_for

    return run_id_for(DAG_ID, dag_run_start.isoformat(), wiki)


def _interval(deployment: Deployment, run_id: str) -> datetime:
    [(start,)] = deployment.metadata(
        "SELECT data_interval_start FROM dag_run WHERE dag_id = %s AND run_id = %s", DAG_ID, run_id)
    return start.astimezone(UTC)


def test_a_worker_killed_mid_task_is_retried_on_the_other_and_nothing_is_lost(
        deployment, concurrent, sequential, sample_wiki):
    from wikivis.lake import Lake

    deployment, _ = deployment
    run = concurrent.backfill[0]
    assert concurrent.states[run] == "success", _tasks(deployment, run)
    # the first try ran on the killed worker and was failed by the scheduler for lack of heartbeat
    tries = deployment.metadata(
        "SELECT try_number, hostname, state FROM task_instance_history WHERE dag_id = %s AND run_id = %s "
        "AND task_id = %s ORDER BY try_number", DAG_ID, run, concurrent.victim)
    assert tries and tries[0][1] == CPU_WORKERS[concurrent.killed] and tries[0][2] in ("failed", "up_for_retry"), tries
    [(try_number, host, state)] = deployment.metadata(
        "SELECT try_number, hostname, state FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s",
        DAG_ID, run, concurrent.victim)
    survivor = {h for n, h in CPU_WORKERS.items() if n != concurrent.killed}
    assert state == "success" and try_number >= 2 and host in survivor, (try_number, host, state)
    assert "without heartbeat" in deployment.log_tail("scheduler", 10**9)

    # one publication of the run, with the rows of the same interval run one after the other
    lakes = [Lake.from_settings(s) for s in (concurrent.settings, sequential)]
    wiki_run = _wikivis_run(_interval(deployment, run), sample_wiki.wiki)
    published = [[p for p in lake.history(sample_wiki.wiki) if p.run_id == wiki_run] for lake in lakes]
    assert len(published[0]) == 1 and len(published[1]) == 1, published
    # its own snapshots hold the same rows (the content hash of every dataset it published)
    mine = {d: e["label"] for d, e in published[1][0].datasets.items()}
    assert {d: lakes[0].manifest(d, sample_wiki.wiki, label).content_hash for d, label in mine.items()} == \
        {d: lakes[1].manifest(d, sample_wiki.wiki, label).content_hash for d, label in mine.items()}
    if published[0][0].kind == "publish":  # else the nightly of a newer date published first
        assert published[0][0].datasets.keys() == published[1][0].datasets.keys()
        assert all(published[0][0].datasets[d]["rows"] == e["rows"] for d, e in published[1][0].datasets.items())


def test_a_backfill_and_the_nightly_at_once_end_as_one_after_the_other(deployment, concurrent, sequential,
                                                                        sample_wiki):
    from tests.dags.test_nightly_e2e import _lake_state
    from wikivis.catalog import Catalog
    from wikivis.lake import Lake

    deployment, _ = deployment
    assert concurrent.states == dict.fromkeys(concurrent.states, "success"), concurrent.states
    spans = {run: deployment.metadata("SELECT start_date, end_date FROM dag_run WHERE run_id = %s", run)[0]
             for run in concurrent.states}
    night = spans[concurrent.nightly]
    assert any(s < night[1] and night[0] < e for run, (s, e) in spans.items() if run != concurrent.nightly), spans

    assert _lake_state(concurrent.settings) == _lake_state(sequential)
    lakes = [Lake.from_settings(s) for s in (concurrent.settings, sequential)]
    for wiki in lakes[1].publications.wikis():
        histories = [list(reversed(lake.history(wiki))) for lake in lakes]  # oldest first
        assert len(histories[0]) == len(histories[1]), wiki  # one publication per run, none lost
        assert [{d: (e["label"], e["rows"]) for d, e in h[-1].datasets.items()} for h in histories] == \
            [{d: (e["label"], e["rows"]) for d, e in histories[1][-1].datasets.items()}] * 2, wiki
        for history in histories:  # readers never went back to older data
            for dataset in history[-1].datasets:
                labels = [p.label(dataset) for p in history if p.label(dataset)]
                assert labels == sorted(labels), (wiki, dataset, labels)
        assert sorted(p.run_id or "" for p in histories[0]) == sorted(p.run_id or "" for p in histories[1])

    # the EventStreams checkpoint ends where the newest window left it, not where the last run did
    positions = []
    for s in (concurrent.settings, sequential):
        catalog = Catalog(s.resolved_catalog_url)
        try:
            stored = json.loads(catalog.get_checkpoint("eventstreams", sample_wiki.wiki) or "{}")
        finally:
            catalog.dispose()
        positions.append((stored.get("until"), stored.get("snapshot")))
    assert positions[0] == positions[1], positions

    sizes = []
    for s in (concurrent.settings, sequential):
        pointer = json.loads((s.index_root / s.model / "current.json").read_text())
        sizes.append(json.loads((s.index_root / s.model / f"v-{pointer['version']}" / "meta.json").read_text())["n"])
    assert sizes[0] == sizes[1] > 0


def test_airflow_backfill_create_runs_three_intervals_one_at_a_time(deployment, concurrent, sample_wiki):
    from wikivis.lake import Lake

    deployment, settings = deployment
    runs = deployment.metadata(
        "SELECT run_id, state, data_interval_start, start_date, end_date FROM dag_run "
        "WHERE dag_id = %s AND backfill_id IS NOT NULL ORDER BY start_date", DAG_ID)
    assert [r[0] for r in runs] == concurrent.backfill  # oldest interval first
    assert [r[2].astimezone(UTC).strftime("%Y%m%d") for r in runs] == list(sample_wiki.dates[1:4])
    assert all(r[1] == "success" for r in runs), runs
    for before, after in itertools.pairwise(runs):  # --max-active-runs 1: one at a time
        assert before[4] <= after[3], (before, after)
    [(max_active,)] = deployment.metadata("SELECT max_active_runs FROM backfill WHERE dag_id = %s", DAG_ID)
    assert max_active == 1
    for run in concurrent.backfill:
        _check_workers(_tasks(deployment, run), frozenset(CPU_WORKERS.values()))

    # each interval's wikivis run: successful, on the monitoring page, with its publication
    lake = Lake.from_settings(settings)
    status = json.loads(_get(deployment, "/wikivis/api/status"))
    shown = {r["id"]: r["status"] for r in status["runs"]}
    for run in runs:
        wiki_run = _wikivis_run(run[2].astimezone(UTC), sample_wiki.wiki)
        assert shown.get(wiki_run) == "success", (wiki_run, sorted(shown))
        [publication] = [p for p in lake.history(sample_wiki.wiki) if p.run_id == wiki_run]
        assert publication.kind in ("publish", "superseded")
        label = f"{run[2].astimezone(UTC) + timedelta(days=1):%Y%m%d}"
        assert any(s.startswith(label) for s in lake.snapshots("article_images", sample_wiki.wiki)), label
