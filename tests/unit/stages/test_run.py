"""Run statuses follow the orchestrator (issue 15, item 8) and health describes the newest
interval (item 9): a stage try that fails does not fail its run; the end of the run does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wikivis import orchestration
from wikivis.errors import SourceError
from wikivis.runs import health, interval_of, newest_intervals
from wikivis.stages.graph import NIGHTLY as NIGHTLY_GRAPH
from wikivis.stages.graph import Graph, run_all
from wikivis.stages.run import RunContext, finish_runs, stage

NIGHTLY = "wikivis_nightly__samplewiki__20261203T000000Z"
BACKFILL = "wikivis_backfill__samplewiki__20261101T000000Z"


@pytest.fixture
def ctx(settings):
    return RunContext.open(settings, NIGHTLY)


def _fail_once(ctx, run_id: str, name: str = "ingest") -> None:
    with pytest.raises(SourceError), stage(ctx.with_run(run_id), name, "samplewiki"):
        raise SourceError("503 from the dumps server", url="http://127.0.0.1:1/x")


def test_a_failed_try_leaves_the_run_running_and_health_ok(ctx):
    _fail_once(ctx, NIGHTLY)
    assert ctx.catalog.get_run(f"{NIGHTLY}.ingest")["status"] == "failed"  # the try is recorded
    assert ctx.catalog.get_run(NIGHTLY)["status"] == "running"  # Airflow may retry it
    assert health(ctx.catalog.runs(limit=100)) == "ok"
    with stage(ctx, "ingest", "samplewiki"):  # the retry succeeds
        pass
    assert ctx.catalog.get_run(f"{NIGHTLY}.ingest")["status"] == "success"
    assert finish_runs(ctx.settings, [NIGHTLY], failed=False) == {NIGHTLY: "success"}
    assert health(ctx.catalog.runs(limit=100)) == "ok"


def test_the_end_of_a_failed_dag_run_fails_its_runs_with_the_stage_reason(ctx):
    _fail_once(ctx, NIGHTLY, "gate_tables")
    ended = orchestration.end_dag_run(
        ctx.settings, [NIGHTLY, "wikivis_nightly__20261203T000000Z"],  # the cross-wiki run never started
        {"plan": "success", "gate_tables_0": "failed", "publish": "upstream_failed", "write_reports": "running"},
        ignore="write_reports",
    )
    assert ended == {NIGHTLY: "failed"}
    run = ctx.catalog.get_run(NIGHTLY)
    assert run["status"] == "failed"
    assert run["message"].startswith("gate_tables: ")
    assert "503 from the dumps server" in run["message"]


def test_a_backfill_run_that_is_not_published_still_finishes(ctx):
    older = "wikivis_backfill__samplewiki__20261101T000000Z"
    newer = "wikivis_backfill__samplewiki__20261102T000000Z"
    for run_id in (older, newer):
        with stage(ctx.with_run(run_id), "ingest", "samplewiki"):
            pass
    ended = orchestration.end_dag_run(ctx.settings, [older, newer], {"ingest_0": "success", "publish_0": "success"})
    assert ended == {older: "success", newer: "success"}


def test_run_all_fails_its_run_when_a_stage_raises(ctx):
    def broken_ingest(step_ctx, item):
        with stage(step_ctx, "ingest", item["wiki"]):
            raise SourceError("gone", url="http://127.0.0.1:1/")

    graph = Graph(tuple(replace(s, step=broken_ingest) if s.name == "ingest" else s for s in NIGHTLY_GRAPH))
    with pytest.raises(SourceError):
        run_all(ctx.settings, run_id="run__samplewiki__20261203T000000Z", graph=graph)
    run = ctx.catalog.get_run("run__samplewiki__20261203T000000Z")
    assert run["status"] == "failed" and run["message"].startswith("ingest: ")


def test_a_rerun_of_a_failed_interval_reopens_its_run(ctx):
    _fail_once(ctx, NIGHTLY)
    finish_runs(ctx.settings, [NIGHTLY], failed=True)
    with stage(ctx, "ingest", "samplewiki"):
        assert ctx.catalog.get_run(NIGHTLY)["status"] == "running"


def _run(catalog, run_id: str, status: str, stages=("ingest", "gate_tables")) -> None:
    catalog.start_run(run_id.split("__")[0], "samplewiki", {}, run_id=run_id)
    for name in stages:
        catalog.start_run(f"stage:{name}", "samplewiki", {"parent": run_id}, run_id=f"{run_id}.{name}")
        catalog.finish_run(f"{run_id}.{name}", status if name == stages[-1] else "success")
    catalog.finish_run(run_id, status, "gate_tables: stale" if status == "failed" else None)


def test_a_later_successful_backfill_of_an_old_date_does_not_hide_a_failed_nightly(ctx):
    _run(ctx.catalog, NIGHTLY, "failed")
    _run(ctx.catalog, BACKFILL, "success")  # started (and finished) after the nightly
    _run(ctx.catalog, "wikivis_nightly__samplewiki__20261101T000000Z", "success")  # Airflow's own backfill
    runs = ctx.catalog.runs(limit=100)
    assert health(runs) == "degraded"
    nightly = [n for n in newest_intervals(runs) if n["kind"] == "wikivis_nightly"]
    assert nightly == [{"kind": "wikivis_nightly", "wiki": "samplewiki", "interval": "20261203T000000Z",
                        "run_id": NIGHTLY, "status": "failed", "message": "gate_tables: stale"}]
    # the next interval's nightly succeeds: healthy again
    _run(ctx.catalog, "wikivis_nightly__samplewiki__20261204T000000Z", "success")
    assert health(ctx.catalog.runs(limit=100)) == "ok"


def test_an_older_failed_interval_rerun_later_does_not_degrade_a_newer_green_one(ctx):
    _run(ctx.catalog, "wikivis_nightly__samplewiki__20261204T000000Z", "success")
    _run(ctx.catalog, NIGHTLY, "failed")  # an older interval, run (and failed) afterwards
    assert health(ctx.catalog.runs(limit=100)) == "ok"


def test_interval_of_reads_the_run_id_stamp():
    assert interval_of({"id": NIGHTLY}) == "20261203T000000Z"
    assert interval_of({"id": "adhoc", "started_at": "2026-12-04T01:02:03+00:00"}) == "20261204T010203Z"


def test_wikivis_status_reports_the_newest_interval_health(ctx, settings):
    from wikivis.cli.status import collect_status

    _run(ctx.catalog, NIGHTLY, "failed")
    _run(ctx.catalog, "wikivis_nightly__samplewiki__20261101T000000Z", "success")  # a later backfill of an old date
    data = collect_status(settings)
    assert data["health"] == "degraded"
    assert data["runs"][0]["id"] == "wikivis_nightly__samplewiki__20261101T000000Z"  # the last to finish…
    assert [(i["run_id"], i["status"]) for i in data["intervals"]] == [(NIGHTLY, "failed")]  # …is not the newest interval
