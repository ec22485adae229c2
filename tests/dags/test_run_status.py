"""Catalog run statuses under Airflow's retries (issue 15, items 8-10), with ``dag.test``.

Cheap on purpose: ``wikivis_backfill`` with ``dry_run`` runs only the (dry) ingest stage;
every other task passes the item through.  ``wikivis.stages.ingest.ingest`` is replaced in this process
(``dag.test`` runs the tasks here) by a stand-in that records the stage like the real one
and fails as told.  Retries wait 0 s: the DAG is parsed again with ``default_args`` patched.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wikivis import airflow_home

pytestmark = [pytest.mark.dags, pytest.mark.integration]

WIKI = "samplewiki"


def _run_id(date: str) -> str:
    from wikivis.stages.run import run_id_for

    return run_id_for("wikivis_backfill", datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC).isoformat(), WIKI)


@pytest.fixture
def backfill_dag(airflow_db, monkeypatch):
    """``wikivis_backfill`` parsed with retries that wait 0 s."""
    from airflow.dag_processing.dagbag import DagBag
    from wikivis_airflow import defaults

    from tests.dags import airflow_env

    original = defaults.default_args
    monkeypatch.setattr(defaults, "default_args", lambda **kw: original(
        **{"retry_delay": timedelta(0), "retry_exponential_backoff": 0, **kw}))
    return DagBag(dag_folder=str(airflow_env.DAGS_FOLDER / "wikivis_backfill.py")).dags["wikivis_backfill"]


@pytest.fixture
def home(settings, use_settings):
    return use_settings(settings)


def _conf(date: str) -> dict[str, object]:
    day = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    return {"wikis": [WIKI], "start": day, "end": day, "stages": ["ingest"], "dry_run": True}


def _ingest_failing(monkeypatch, failures: list[Exception]) -> None:
    """The ingest stage raising each of ``failures`` in turn (inside its stage), then succeeding."""
    from wikivis.stages import ingest as ingest_stages
    from wikivis.stages.run import stage

    def ingest(ctx, wiki, date, **_):
        with stage(ctx, "ingest", wiki, date=date):
            if failures:
                raise failures.pop(0)
        return {"wiki": wiki, "snapshot": date, "run_id": ctx.run_id}

    monkeypatch.setattr(ingest_stages, "ingest", ingest)


def _health(settings) -> str:
    from wikivis.catalog import Catalog
    from wikivis.runs import health

    catalog = Catalog(settings.resolved_catalog_url)
    try:
        return health(catalog.runs(limit=500))
    finally:
        catalog.dispose()


def test_a_retried_try_does_not_fail_the_run_and_a_failed_dag_run_does(backfill_dag, home, monkeypatch):
    from wikivis.catalog import Catalog
    from wikivis.errors import ConfigError, SourceError

    catalog = Catalog(home.resolved_catalog_url)
    # try 1 fails with a transient error, Airflow retries, try 2 succeeds: the run is green
    _ingest_failing(monkeypatch, [SourceError("HTTP 503", url="http://127.0.0.1:9/dumps")])
    green = airflow_home.run_dag_test(backfill_dag, run_conf=_conf("20261101"))
    assert str(green.state) == "success"
    [ingest_ti] = [ti for ti in green.get_task_instances() if ti.task_id == "ingest"]
    assert ingest_ti.try_number == 2
    assert catalog.get_run(_run_id("20261101"))["status"] == "success"
    assert catalog.get_run(f"{_run_id('20261101')}.ingest")["status"] == "success"
    assert _health(home) == "ok"

    # a non-retryable failure fails the DAG run: its catalog run is failed, with the reason
    _ingest_failing(monkeypatch, [ConfigError("no such wiki")])
    red = airflow_home.run_dag_test(backfill_dag, run_conf=_conf("20261102"))
    assert str(red.state) == "failed"
    run = catalog.get_run(_run_id("20261102"))
    assert (run["status"], run["message"]) == ("failed", "ingest: no such wiki")
    assert _health(home) == "degraded"
    catalog.dispose()


def test_write_reports_survives_a_refused_backfill_form(backfill_dag, home):
    """Item 10: ``validate_request`` fails (start after end), ``write_reports`` got ``None``."""
    conf = {**_conf("20261103"), "end": "2026-11-01"}
    run = airflow_home.run_dag_test(backfill_dag, run_conf=conf)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "failed"
    assert states["validate_request"] == "failed"
    assert states["write_reports"] == "success", states


def test_a_dag_run_that_fails_without_its_teardown_fails_its_runs(home):
    """``dagrun_timeout`` (or a run marked failed by hand) skips the teardown: the DAG-level
    ``on_failure_callback`` ends the runs instead, and leaves finished ones as they are."""
    from types import SimpleNamespace

    from wikivis_airflow.callbacks import dag_run_failed

    from wikivis.catalog import Catalog
    from wikivis.stages.run import RunContext, finish_runs, run_id_for, stage

    start = datetime(2026, 12, 3, tzinfo=UTC)
    nightly = run_id_for("wikivis_nightly", start.isoformat(), WIKI)
    cross = run_id_for("wikivis_nightly", start.isoformat())
    ctx = RunContext.open(home, nightly)
    for run_id in (nightly, cross):
        with stage(ctx.with_run(run_id), "ingest" if run_id == nightly else "gate_embeddings", WIKI):
            pass
    finish_runs(home, [cross], failed=False)
    dag_run = SimpleNamespace(run_id="scheduled__2026-12-03", data_interval_start=start,
                              data_interval_end=start + timedelta(days=1), conf={})
    dag_run_failed({"dag": SimpleNamespace(dag_id="wikivis_nightly"), "dag_run": dag_run, "reason": "timed_out"})
    catalog = Catalog(home.resolved_catalog_url)
    run = catalog.get_run(nightly)
    assert run["status"] == "failed" and "timed_out" in run["message"]
    assert catalog.get_run(cross)["status"] == "success"

    # a backfill: its run ids come from the form
    day = _run_id("20261105")
    with stage(ctx.with_run(day), "ingest", WIKI):
        pass
    dag_run = SimpleNamespace(run_id="manual__x", data_interval_start=None, data_interval_end=None,
                              conf={**_conf("20261104"), "end": "2026-11-05"})
    dag_run_failed({"dag": SimpleNamespace(dag_id="wikivis_backfill"), "dag_run": dag_run, "reason": "timed_out"})
    assert catalog.get_run(day)["status"] == "failed"
    catalog.dispose()
    dag_run_failed({"dag": None, "dag_run": None, "run_id": "x"})  # nothing to go on: logged, not raised
