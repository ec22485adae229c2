"""Seed a wikivis home with what the monitoring page shows (shared by the monitor tests).

:func:`seed_home` writes catalog records, a lake snapshot and index metadata directly (fast,
for the TestClient tests); :func:`seed_real_runs` runs the nightly's stages for real against
the local mirror (for the browser test and its screenshot), then adds one failed run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

FAILING_REASON = "dangling_files: 12.5% of article_images rows name a missing file (tolerated 5%); example row {\"page_id\": 7}"
WIKI = "samplewiki"


@dataclass(frozen=True)
class Seeded:
    ok_run: str
    failed_run: str
    failing_reason: str = FAILING_REASON
    runs: tuple[str, ...] = ()


def _record_failed_run(catalog, failed_run: str) -> None:
    """A run whose tables gate failed (what ``stages.ingest.gate_tables`` records), as catalog rows."""
    catalog.start_run("wikivis_nightly", WIKI, {}, run_id=failed_run)
    catalog.start_run("stage:ingest", WIKI, {"parent": failed_run}, run_id=f"{failed_run}.ingest")
    catalog.finish_run(f"{failed_run}.ingest", "success",
                       metrics={"elapsed_s": 2.5, "dump_date": "20261102",
                                "http": {"dumps": {"requests": 11, "retries": 2, "server_errors": 2, "bytes": 67_000,
                                                   "waited_s": 1.5}}})
    catalog.start_run("stage:gate_tables", WIKI, {"parent": failed_run}, run_id=f"{failed_run}.gate_tables")
    catalog.record_gate(failed_run, "ingest", "article_images", "row_count", "pass", {"rows": 1150}, None)
    catalog.record_gate(failed_run, "ingest", "article_images", "dangling_files", "fail", {"fraction": 0.125}, FAILING_REASON)
    catalog.finish_run(f"{failed_run}.gate_tables", "failed", f"gate_tables: {FAILING_REASON}", {"elapsed_s": 0.4})
    catalog.finish_run(failed_run, "failed", message=f"gate_tables: {FAILING_REASON}")


def seed_home(settings) -> Seeded:
    """Two runs (one passed, one failed on a gate), a report, a published lake snapshot, an index pointer."""
    from wikivis.catalog import Catalog
    from wikivis.datasets import schema
    from wikivis.lake import Lake

    catalog = Catalog(settings.resolved_catalog_url)
    ok_run, failed_run = "wikivis_nightly__samplewiki__20261101T000000Z", "wikivis_nightly__samplewiki__20261102T000000Z"
    # the shape wikivis.pipeline records: a parent run per DAG run and wiki, a child run per stage
    catalog.start_run("wikivis_nightly", WIKI, {}, run_id=ok_run)
    catalog.start_run("stage:ingest", WIKI, {"parent": ok_run}, run_id=f"{ok_run}.ingest")
    catalog.finish_run(f"{ok_run}.ingest", "success", metrics={"elapsed_s": 3.0, "dump_date": "20261101"})
    catalog.start_run("stage:metadata_0", WIKI, {"parent": ok_run}, run_id=f"{ok_run}.metadata_0")
    catalog.finish_run(f"{ok_run}.metadata_0", "success",
                       metrics={"elapsed_s": 1.0, "http": {"requests": 4, "retries": 1, "throttled": 1, "bytes": 52_000}})
    for shard in (0, 1):  # two thumbnail shards, 50 MB in 20 s together: 20 Mbit/s
        catalog.start_run(f"stage:media_{shard}", WIKI, {"parent": ok_run}, run_id=f"{ok_run}.media_{shard}")
        catalog.finish_run(f"{ok_run}.media_{shard}", "success",
                           metrics={"elapsed_s": 20.0, "http": {"upload": {"requests": 100, "bytes": 25_000_000}}})
    catalog.start_run("stage:build_index", None, {"parent": ok_run}, run_id=f"{ok_run}.build_index")
    catalog.finish_run(f"{ok_run}.build_index", "success",
                       metrics={"elapsed_s": 4.0, "version": "20261101T010000Z-000001", "model_id": "efficientnet-lite0",
                                "recall": 0.97, "threshold": 0.9, "n": 1200})
    catalog.record_gate(ok_run, "ingest", "article_images", "row_count", "pass", {"rows": 1200}, None)
    catalog.record_gate(ok_run, "media", "media", "fetch_failures", "warn", {"fraction": 0.02}, "2% of thumbnails failed")
    catalog.finish_run(ok_run, "success")
    catalog.set_checkpoint("eventstreams", WIKI, json.dumps({"last_event_id": None, "until": "2026-11-02T00:00:00Z",
                                                             "snapshot": "20261102T000000Z"}))
    _record_failed_run(catalog, failed_run)
    catalog.dispose()

    report = settings.reports_root / ok_run / "report.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("<html><body><h1>quality report 20261101</h1></body></html>", "utf-8")

    lake = Lake.from_settings(settings)
    lake.write("article_images", WIKI, "20261101", schema("article_images").empty_table(), run_id=ok_run)
    lake.publish("article_images", WIKI, "20261101", run_id=ok_run)
    lake.write("article_images", WIKI, "20261102", schema("article_images").empty_table(), run_id=failed_run)

    model_dir = Path(settings.index_root) / "efficientnet-lite0"
    (model_dir / "v-20261101T010000Z-000001").mkdir(parents=True, exist_ok=True)
    (model_dir / "v-20261101T010000Z-000001" / "meta.json").write_text(
        json.dumps({"version": "20261101T010000Z-000001", "recall_at_k": 0.97, "n": 1200}), "utf-8")
    (model_dir / "current.json").write_text(json.dumps({"version": "v-20261101", "recall_at_10": 0.97}), "utf-8")
    return Seeded(ok_run=ok_run, failed_run=failed_run, runs=(ok_run, failed_run))


def seed_real_runs(settings, dates: list[str], *, max_images: int = 60) -> Seeded:
    """The nightly's per-wiki stages for each date, for real, against the mirror ``settings``
    point at (the task order of ``wikivis_nightly``, without Airflow), each with its quality
    report; then one more run, dated the day after, whose tables gate failed."""
    from wikivis.catalog import Catalog
    from wikivis.stages import commons, ingest, publish, vectors
    from wikivis.stages.run import RunContext, run_id_for

    runs = []
    for date in dates:
        start = datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC)
        ctx = RunContext.open(settings, run_id_for("wikivis_nightly", start.isoformat(), WIKI))
        snapshot = ingest.ingest(ctx, WIKI, date)["snapshot"]
        ingest.gate_tables(ctx, WIKI, snapshot)
        until = (start + timedelta(days=1)).isoformat()
        snapshot = ingest.events_catchup(ctx, WIKI, snapshot, until=until)["snapshot"]
        ingest.gate_events(ctx, WIKI, snapshot)
        commons.commons(ctx, WIKI, snapshot, max_images=max_images)
        commons.gate_media(ctx, WIKI, snapshot)
        vectors.embed(ctx, WIKI, snapshot)
        vectors.gate_embeddings(ctx)
        index = vectors.build_index(ctx)
        vectors.gate_index(ctx, index["version"])
        publish.publish(ctx, WIKI, snapshot, index_version=index["version"])
        publish.write_report(ctx)
        runs.append(ctx.run_id)
    last = datetime.strptime(dates[-1], "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)
    failed_run = run_id_for("wikivis_nightly", last.isoformat(), WIKI)
    catalog = Catalog(settings.resolved_catalog_url)
    try:
        _record_failed_run(catalog, failed_run)
    finally:
        catalog.dispose()
    return Seeded(ok_run=runs[-1], failed_run=failed_run, runs=(*runs, failed_run))
