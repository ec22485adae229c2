"""The whole pipeline without Airflow on the sample wiki served by the mirror.

One module-scoped run (a few minutes on 2 cores: ~370 thumbnails are fetched and embedded
with EfficientNet-Lite0), then several assertions on what it left behind.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def finished_run(mirror, sample_wiki, tmp_path_factory):
    from wikivis.stages.graph import run_all

    settings = mirror.settings(home=tmp_path_factory.mktemp("pipeline-home"))
    date = sample_wiki.dates[0]
    until = (datetime.strptime(date, "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)).isoformat()
    return settings, run_all(settings, date=date, until=until)


def test_everything_is_published_together(finished_run):
    from wikivis.lake import Lake

    settings, summary = finished_run
    lake = Lake.from_settings(settings)
    snapshot = summary["wikis"]["samplewiki"]["snapshot"]
    for dataset in ("pages", "article_images", "article_categories", "file_metadata", "media"):
        assert lake.current(dataset, "samplewiki") == snapshot, dataset
    assert lake.current("files", settings.commons_wiki) is not None
    pointer = json.loads((settings.index_root / settings.model / "current.json").read_text())
    assert pointer["version"] == summary["index"]["version"]


def test_visual_recommenders_beat_popularity(finished_run):
    _, summary = finished_run
    scores = summary["wikis"]["samplewiki"]["eval"]
    assert set(scores) >= {"random", "popularity", "visrank", "vbpr", "curatornet"}
    for model in ("visrank", "curatornet"):
        assert scores[model]["recall_at_10"] > scores["popularity"]["recall_at_10"], scores
    for model in ("visrank", "vbpr", "curatornet"):
        assert scores[model]["auc"] > scores["random"]["auc"], scores


def test_rerunning_the_embedding_stage_does_no_work(finished_run):
    from wikivis.stages.run import RunContext
    from wikivis.stages.vectors import embed

    settings, summary = finished_run
    snapshot = summary["wikis"]["samplewiki"]["snapshot"]
    # a retried task: same run id, nothing new to embed
    again = embed(RunContext.open(settings, summary["wikis"]["samplewiki"]["run_id"]), "samplewiki", snapshot)
    assert again["embedded"] == 0


def test_status_and_report_describe_the_run(finished_run):
    from wikivis.cli.status import collect_status

    settings, summary = finished_run
    status = collect_status(settings)
    run = status["runs"][0]
    assert run["id"] == summary["wikis"]["samplewiki"]["run_id"] and run["status"] == "success"
    assert {s["stage"] for s in run["stages"]} >= {"ingest", "gate_tables", "merge_commons", "embed", "publish"}
    assert not [g for g in status["gates"] if g["outcome"] == "fail"]
    report = summary["wikis"]["samplewiki"]["report"]
    assert report.endswith(".html")
    with open(report, encoding="utf-8") as fh:
        assert "samplewiki" in fh.read()
