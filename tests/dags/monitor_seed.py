"""Seed a wikivis home with what the monitoring page shows (shared by the monitor tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FAILING_REASON = "dangling_files: 12.5% of article_images rows name a missing file (tolerated 5%); example row {\"page_id\": 7}"


@dataclass(frozen=True)
class Seeded:
    ok_run: str
    failed_run: str
    failing_reason: str = FAILING_REASON


def seed_home(settings) -> Seeded:
    """Two runs (one passed, one failed on a gate), a report, a published lake snapshot, an index pointer."""
    from wikivis.catalog import Catalog
    from wikivis.datasets import schema
    from wikivis.lake import Lake

    catalog = Catalog(settings.resolved_catalog_url)
    ok_run, failed_run = "wikivis_nightly__samplewiki__20261101T000000Z", "wikivis_nightly__samplewiki__20261102T000000Z"
    # the shape wikivis.pipeline records: a parent run per DAG run and wiki, a child run per stage
    catalog.start_run("wikivis_nightly", "samplewiki", {}, run_id=ok_run)
    catalog.start_run("stage:ingest", "samplewiki", {"parent": ok_run}, run_id=f"{ok_run}.ingest")
    catalog.finish_run(f"{ok_run}.ingest", "success")
    catalog.start_run("stage:metadata_0", "samplewiki", {"parent": ok_run}, run_id=f"{ok_run}.metadata_0")
    catalog.finish_run(f"{ok_run}.metadata_0", "success",
                       metrics={"http": {"requests": 4, "retries": 1, "throttled": 1, "bytes": 52_000}})
    catalog.record_gate(ok_run, "ingest", "article_images", "row_count", "pass", {"rows": 1200}, None)
    catalog.finish_run(ok_run, "success")
    catalog.start_run("wikivis_nightly", "samplewiki", {}, run_id=failed_run)
    catalog.start_run("stage:ingest", "samplewiki", {"parent": failed_run}, run_id=f"{failed_run}.ingest")
    catalog.finish_run(f"{failed_run}.ingest", "success")
    catalog.start_run("stage:gate_tables", "samplewiki", {"parent": failed_run}, run_id=f"{failed_run}.gate_tables")
    catalog.record_gate(failed_run, "ingest", "article_images", "dangling_files", "fail", {"fraction": 0.125}, FAILING_REASON)
    catalog.finish_run(f"{failed_run}.gate_tables", "failed", message=f"gate_tables: {FAILING_REASON}")
    catalog.finish_run(failed_run, "failed", message=f"gate_tables: {FAILING_REASON}")
    catalog.dispose()

    report = settings.reports_root / ok_run / "report.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("<html><body><h1>quality report 20261101</h1></body></html>", "utf-8")

    lake = Lake.from_settings(settings)
    lake.write("article_images", "samplewiki", "20261101", schema("article_images").empty_table(), run_id=ok_run)
    lake.publish("article_images", "samplewiki", "20261101", run_id=ok_run)
    lake.write("article_images", "samplewiki", "20261102", schema("article_images").empty_table(), run_id=failed_run)

    pointer = Path(settings.index_root) / "efficientnet-lite0" / "current.json"
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(json.dumps({"version": "v-20261101", "recall_at_10": 0.97}), "utf-8")
    return Seeded(ok_run=ok_run, failed_run=failed_run)
