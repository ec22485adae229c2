"""The evaluation on synthetic topic data: the issue's Done-when, the report, the settings path."""

from __future__ import annotations

import json
import math

import pytest

from wikivis.evaluation.run import evaluate, evaluate_data, metric_names, render_markdown, write_report
from wikivis.recommend.curatornet import CuratorNetConfig
from wikivis.recommend.synthetic import publish_synthetic, synthetic_wiki

METRICS = ["auc", "recall_at_10", "ndcg_at_10", "recall_at_20", "ndcg_at_20", "mrr"]


@pytest.fixture(scope="module")
def result():
    data = synthetic_wiki(seed=0, dim=64).data  # 300 articles, 500 images, 10 topics
    return evaluate_data(data, device="cpu", config=CuratorNetConfig(epochs=6))


def test_content_models_beat_popularity_on_recall_at_10(result) -> None:
    m = result.metrics
    assert list(m) == ["random", "popularity", "visrank", "vbpr", "curatornet", "acf"]  # dvbpr: no pixels
    assert all(list(values) == METRICS for values in m.values())
    assert m["visrank"]["recall_at_10"] > m["popularity"]["recall_at_10"]
    assert m["curatornet"]["recall_at_10"] > m["popularity"]["recall_at_10"]
    assert m["visrank"]["auc"] > 0.8
    assert m["curatornet"]["auc"] > 0.8
    assert m["vbpr"]["auc"] > m["random"]["auc"] + 0.1  # learns something from 1 link per factor row
    assert abs(m["random"]["auc"] - 0.5) < 0.1
    for values in m.values():
        for name, value in values.items():
            assert 0.0 <= value <= 1.0, name


def test_report_and_json(result, tmp_path) -> None:
    text = render_markdown(result)
    assert "| model | auc | recall_at_10" in text
    assert "| visrank |" in text
    assert "curatornet:" in text
    assert "vbpr:" in text
    assert "Wikimedia filters applied: yes" in text
    folder = write_report(result, tmp_path)
    assert (folder / "report.md").read_text() == text
    assert json.loads((folder / "metrics.json").read_text()) == result.metrics
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_metric_names_follow_ks() -> None:
    assert metric_names((5,)) == ["auc", "recall_at_5", "ndcg_at_5", "mrr"]


def test_without_filters_and_unknown_model() -> None:
    data = synthetic_wiki(seed=2, dim=16, n_articles=100, n_images=120).data
    r = evaluate_data(data, models=("random", "popularity"), ks=(5,), apply_filters=False)
    assert r.filters_applied is False
    assert r.filter_drops == {}
    assert not math.isnan(r.metrics["popularity"]["recall_at_5"])
    with pytest.raises(ValueError, match="unknown model"):
        evaluate_data(data, models=("bogus",))


def test_evaluate_from_settings_writes_report(settings) -> None:
    publish_synthetic(settings, dim=16, n_articles=100, n_images=150, n_topics=5)
    metrics = evaluate(settings, models=("popularity", "visrank"))
    assert set(metrics) == {"popularity", "visrank"}
    assert metrics["visrank"]["recall_at_10"] > metrics["popularity"]["recall_at_10"]
    (folder,) = list(settings.reports_root.iterdir())
    assert folder.name.startswith(f"eval-{settings.wikis[0]}-")
    assert json.loads((folder / "metrics.json").read_text()) == metrics
