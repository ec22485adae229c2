"""The real scheduler (issue 15, "done when"): a freshly unpaused ``wikivis_nightly`` and a
``wikivis_backfill`` under a faulty mirror end with wikivis run statuses and health that match
Airflow's DAG run states.

A private Airflow installation in subprocesses — ``api-server`` (the Task Execution API),
``scheduler`` (LocalExecutor) and ``dag-processor`` on SQLite — and the mirror in this process
(``flaky``: every 4th request to the dumps, API and upload servers fails with a 5xx, which the
clients' retry policies absorb; dump runs dated relative to today, so the nightly's first
interval, yesterday, has its dump).  Default freshness limit and replay window.

* the nightly's first DAG run succeeds → its wikivis runs are ``success``, health ``ok``;
* a backfill of a date without a dump fails (``NotFoundError`` is not retried) → its run is
  ``failed`` and health is ``degraded``, while the nightly's runs stay ``success``.

Slow (a few minutes on 2 cores: every task is a process); ``-m "not slow"`` skips it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.dags import airflow_env
from wikivis.config import settings_toml

pytestmark = [pytest.mark.dags, pytest.mark.integration, pytest.mark.slow]

RUN_TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Airflow:
    """Airflow's components in subprocesses, each in its own process group."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.processes: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True,
                              timeout=300, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self, *args: str) -> None:
        log = (self.home / f"{args[0]}.log").open("wb")
        self.processes.append(subprocess.Popen([sys.executable, "-m", "airflow", *args], env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.home.glob("*.log")))

    def query(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(self.home / "airflow.db", timeout=30) as db:
            return list(db.execute(sql, params))

    def wait_for_dags(self, *dag_ids: str, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = {row[0] for row in self.query("SELECT dag_id FROM dag")} if (self.home / "airflow.db").exists() else set()
            if set(dag_ids) <= found:
                return
            time.sleep(3)
        raise AssertionError(f"DAGs {dag_ids} not parsed within {timeout_s} s:\n{self.logs()}")

    def wait_for_run(self, dag_id: str, timeout_s: float = RUN_TIMEOUT_S) -> tuple[str, str]:
        """(run_id, state) of the first DAG run of ``dag_id`` once it has ended."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rows = self.query("SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id LIMIT 1", dag_id)
            if rows and rows[0][1] in ("success", "failed"):
                return rows[0][0], rows[0][1]
            time.sleep(5)
        raise AssertionError(f"{dag_id} did not finish within {timeout_s} s:\n{self.task_states(dag_id)}\n{self.logs()}")

    def task_states(self, dag_id: str) -> dict[str, list[str]]:
        states: dict[str, list[str]] = {}
        for task_id, state in self.query("SELECT task_id, state FROM task_instance WHERE dag_id = ?", dag_id):
            states.setdefault(task_id, []).append(str(state))
        return states


@pytest.fixture
def airflow(tmp_path: Path, mirror_factory) -> Iterator[tuple[Airflow, object]]:
    mirror = mirror_factory(faults={"dumps": "flaky", "api": "flaky", "upload": "flaky"}, dump_dates="today")
    home = tmp_path / "airflow"
    home.mkdir()
    port = _free_port()
    settings = mirror.settings(home=tmp_path / "wikivis")
    config = tmp_path / "wikivis.toml"
    config.write_text(settings_toml(settings), encoding="utf-8")  # every endpoint of the mirror, Wikidata included
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WIKIVIS_"))},
        "PYTHONPATH": str(airflow_env.REPO),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_env.DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(airflow_env.PLUGINS_FOLDER),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        "AIRFLOW__API__SECRET_KEY": os.urandom(8).hex(),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "OMP_WAIT_POLICY": "PASSIVE",
        "AIRFLOW__WIKIVIS__CONFIG_FILE": str(config),  # what every task, callback and trigger reads
        "WIKIVIS_MAX_IMAGES": "20",  # variables override the file, as in a deployment
    }
    af = Airflow(home, env)
    af.cli("db", "migrate")
    from wikivis_airflow.defaults import POOLS

    for name, (slots, description) in POOLS.items():  # every pool the DAGs name, or their tasks never run
        af.cli("pools", "set", name, str(slots), description)
    for component in (("api-server", "--port", str(port)), ("scheduler",), ("dag-processor",)):
        af.start(*component)
    try:
        yield af, settings
    finally:
        af.stop()


def _catalog_runs(settings) -> dict[str, dict]:
    from wikivis.catalog import Catalog

    catalog = Catalog(settings.resolved_catalog_url)
    try:
        return {r["id"]: r for r in catalog.runs(limit=500) if not r["kind"].startswith("stage:")}
    finally:
        catalog.dispose()


def _health(settings) -> str:
    from wikivis_airflow.monitor import collect_status, health

    return health(collect_status(settings))


def test_a_scheduled_nightly_and_a_failing_backfill_end_as_airflow_says(airflow):
    from wikivis.stages.run import run_id_for

    af, settings = airflow
    af.wait_for_dags("wikivis_nightly", "wikivis_backfill")
    af.cli("dags", "unpause", "wikivis_nightly")
    _, state = af.wait_for_run("wikivis_nightly")
    assert state == "success", af.task_states("wikivis_nightly")
    af.cli("dags", "pause", "wikivis_nightly")  # no second interval while the backfill runs

    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    nightly_run = run_id_for("wikivis_nightly", yesterday.isoformat(), settings.wikis[0])
    runs = _catalog_runs(settings)
    assert runs[nightly_run]["status"] == "success", runs
    assert all(r["status"] == "success" for r in runs.values()), runs
    assert _health(settings) == "ok"

    # a backfill of a day without any dump run: ingest raises NotFoundError (not retried)
    conf = {"wikis": [settings.wikis[0]], "start": "2020-01-01", "stages": ["ingest", "events"]}
    af.cli("dags", "unpause", "wikivis_backfill")
    af.cli("dags", "trigger", "wikivis_backfill", "-c", json.dumps(conf))
    _, state = af.wait_for_run("wikivis_backfill")
    assert state == "failed", af.task_states("wikivis_backfill")
    backfill_run = run_id_for("wikivis_backfill", datetime(2020, 1, 1, tzinfo=UTC).isoformat(), settings.wikis[0])
    runs = _catalog_runs(settings)
    assert runs[backfill_run]["status"] == "failed" and runs[backfill_run]["message"].startswith("ingest: "), runs
    assert runs[nightly_run]["status"] == "success"
    assert not [r for r in runs.values() if r["status"] == "running"], runs
    assert _health(settings) == "degraded"
