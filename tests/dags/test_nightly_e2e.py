"""``wikivis_nightly`` end to end with ``dag.test()`` on the sample wiki served by the mirror.

Tasks run in this process (``dag.test`` without an executor); the ``use_settings`` fixture
hands them the mirror's settings through a config file named in Airflow's configuration.  Thumbnails are capped (``max_images``) to keep
the run short; the per-task overhead of ``dag.test`` is ~1-2 s, so these runs take minutes.

* a green run publishes every ``current`` pointer and the index, and writes the report;
* a forced gate failure fails the run on the gate's first try, moves no ``current`` pointer,
  and the monitoring page shows the reason;
* one ``wikivis_backfill`` run over three successive dates (``dag.test``) ends with the same
  lake — every snapshot's content hash and every ``current`` pointer — as three nightly
  intervals in order.  The nightly side calls the pipeline functions in the DAG's order
  (what ``airflow backfill create --dag-id wikivis_nightly --max-active-runs 1`` runs, one interval at a time)
  rather than ``dag.test`` × 3, which would add minutes for the same assertion on the data.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wikivis import airflow_home

pytestmark = [pytest.mark.dags, pytest.mark.integration, pytest.mark.slow]

MAX_IMAGES = 40


def _settings(mirror, home: Path, **overrides):
    # freshness is judged against the wall clock; the sample's dump dates are fixed
    values = {"max_images": MAX_IMAGES, "gate_max_snapshot_age_days": 0, **overrides}
    return mirror.settings(home=home, **values)


def _interval_start(date: str) -> datetime:
    return datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC)


dag_test = airflow_home.run_dag_test


def run_nightly(dagbag, date: str):
    """One ``dag.test`` run whose data interval is the day ``date`` (dag.test infers the
    interval that *ends* at the logical date for a data-interval timetable)."""
    return dag_test(dagbag.dags["wikivis_nightly"], logical_date=_interval_start(date) + timedelta(days=1))


def _states(run) -> dict[str, set[str]]:
    states: dict[str, set[str]] = {}
    for ti in run.get_task_instances():
        states.setdefault(ti.task_id, set()).add(str(ti.state))
    return states


def _lake_state(settings) -> dict[str, dict[str, object]]:
    """dataset/wiki → current snapshot and the content hash of every snapshot."""
    from wikivis.lake import Lake

    lake = Lake.from_settings(settings)
    state = {}
    for dataset in lake.datasets():
        for wiki in lake.wikis(dataset):
            state[f"{dataset}/{wiki}"] = {
                "current": lake.current(dataset, wiki),
                "snapshots": {s: lake.manifest(dataset, wiki, s).content_hash for s in lake.snapshots(dataset, wiki)},
            }
    return state


def test_nightly_publishes_then_a_failing_gate_moves_nothing_and_shows_its_reason(
    dagbag, airflow_db, mirror, sample_wiki, tmp_path, use_settings
):
    from fastapi.testclient import TestClient
    from wikivis_airflow.monitor import create_app, require_user

    from wikivis.lake import Lake
    from wikivis.stages.run import run_id_for

    settings = _settings(mirror, tmp_path / "home")
    use_settings(settings)
    wiki, first, second = sample_wiki.wiki, sample_wiki.dates[0], sample_wiki.dates[1]

    green = run_nightly(dagbag, first)
    states = _states(green)
    assert str(green.state) == "success", states
    assert all(s <= {"success"} for s in states.values()), states
    lake = Lake.from_settings(settings)
    published = lake.current("article_images", wiki)
    assert published is not None
    assert published > first  # the day's dump snapshot plus the day's events: <next day>T000000Z
    pointer = json.loads((settings.index_root / settings.model / "current.json").read_text())
    assert pointer["version"]
    run_id = run_id_for("wikivis_nightly", _interval_start(first).isoformat(), wiki)
    assert (settings.reports_root / run_id / "report.html").is_file()

    # the next interval with a gate that cannot pass: freshness limit of ~0.1 s
    use_settings(settings.replace(gate_max_snapshot_age_days=1e-6))
    red = run_nightly(dagbag, second)
    states = _states(red)
    assert str(red.state) == "failed", states
    assert states["gate_tables"] == {"failed"}
    [gate_ti] = [ti for ti in red.get_task_instances() if ti.task_id == "gate_tables"]
    assert gate_ti.try_number == 1  # GateFailed is not retried
    for downstream in ("events_catchup", "embed", "build_index", "publish"):
        assert states[downstream] == {"upstream_failed"}, downstream
    assert states["write_reports"] == {"success"}  # the teardown reports the failed run
    failed_run = run_id_for("wikivis_nightly", _interval_start(second).isoformat(), wiki)
    assert (settings.reports_root / failed_run / "report.html").is_file()
    assert lake.current("article_images", wiki) == published
    assert json.loads((settings.index_root / settings.model / "current.json").read_text()) == pointer

    app = create_app(lambda: settings)
    app.dependency_overrides[require_user] = lambda: "tester"
    with TestClient(app) as client:
        status = client.get("/api/status").json()
        page = client.get("/").text
        assert client.get("/health").json() == {"status": "degraded"}
    failing = [g for g in status["failing_gates"] if g["gate"] == "freshness"]
    assert failing, status["failing_gates"]
    reason = failing[0]["message"]
    assert f"snapshot {second}" in reason
    failing_section = page[page.index('id="failing-gates"'):page.index('<h2 id="stages">')]
    assert html.escape(reason) in failing_section


def _replay_nightly(settings, dates: list[str]) -> None:
    """The nightly DAG's steps, called in its order for each interval, oldest first (what
    ``airflow backfill create --dag-id wikivis_nightly --max-active-runs 1`` runs, one interval at a time)."""
    from wikivis import orchestration
    from wikivis.stages import annotate, commons, ingest, publish, vectors
    from wikivis.stages.run import RunContext

    for date in dates:
        start = _interval_start(date)
        cross = RunContext.open(settings, orchestration.interval_run_id("wikivis_nightly", start))
        items = orchestration.interval_items("wikivis_nightly", start, start + timedelta(days=1), settings.wikis)
        for item in items:
            ctx, wiki = RunContext.open(settings, item["run_id"]), item["wiki"]
            snapshot = ingest.ingest(ctx, wiki, item["dump_date"])["snapshot"]
            ingest.gate_tables(ctx, wiki, snapshot)
            snapshot = ingest.events_catchup(ctx, wiki, snapshot, until=item["until"])["snapshot"]
            ingest.gate_events(ctx, wiki, snapshot)
            annotate.captions(ctx, wiki, snapshot)
            annotate.wikidata(ctx, wiki, snapshot)
            for shard in commons.plan_commons(ctx, wiki, snapshot):
                commons.fetch_metadata_shard(ctx, wiki, snapshot, shard["shard"], shard["n_shards"])
                commons.fetch_media_shard(ctx, wiki, snapshot, shard["shard"], shard["n_shards"])
            commons.merge_commons(ctx, wiki, snapshot)
            commons.gate_media(ctx, wiki, snapshot)
            vectors.embed(ctx, wiki, snapshot)
            item["snapshot"] = snapshot
        vectors.gate_embeddings(cross)
        version = vectors.build_index(cross)["version"]
        vectors.gate_index(cross, version)
        for item in orchestration.newest_per_wiki(items):
            publish.publish(RunContext.open(settings, item["run_id"]), item["wiki"], item["snapshot"],
                            index_version=version)


def test_a_backfill_of_three_dates_ends_with_the_same_lake_as_three_nightly_runs(
    dagbag, airflow_db, mirror, sample_wiki, tmp_path, use_settings
):
    """Three nightly intervals in order (the DAG's calls, see ``_replay_nightly``) versus one
    ``wikivis_backfill`` run over the same three dates (mapped per date, newest published)."""
    from wikivis.orchestration import STAGES

    dates = sample_wiki.dates[:3]
    nightly = _settings(mirror, tmp_path / "nightly")
    use_settings(nightly)
    _replay_nightly(nightly, dates)
    expected = _lake_state(nightly)
    assert expected[f"article_images/{sample_wiki.wiki}"]["current"] > dates[-1]  # the last day plus its events

    backfill = _settings(mirror, tmp_path / "backfill")
    use_settings(backfill)
    day = [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in (dates[0], dates[-1])]
    run = dag_test(
        dagbag.dags["wikivis_backfill"],
        run_conf={"wikis": [sample_wiki.wiki], "start": day[0], "end": day[1], "stages": list(STAGES), "max_images": 0}
    )
    assert str(run.state) == "success", _states(run)
    assert _lake_state(backfill) == expected
