"""``wikivis similar|suggest|serve`` and ``wikivis eval run|train`` on published synthetic data."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wikivis.cli import _common
from wikivis.cli import app as wikivis_app
from wikivis.recommend.synthetic import publish_synthetic


@pytest.fixture
def published(settings, monkeypatch):
    synth = publish_synthetic(settings, dim=16, n_articles=80, n_images=120, n_topics=4)
    monkeypatch.setattr(_common.STATE, "_settings", settings)
    monkeypatch.setattr(_common.STATE, "as_json", False)
    return synth


def run(*args: str):
    return CliRunner().invoke(wikivis_app, list(args), catch_exceptions=False)


def test_similar_and_suggest(published) -> None:
    name = published.data.display_name(published.data.item_ids[0])
    result = run("similar", name, "--k", "3")
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 3
    assert "[similar:" in result.output
    title = published.data.titles[published.unillustrated[0]]
    result = run("--json", "suggest", title, "-k", "2")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["article"] == title
    assert body["suggestions"][0]["source"] == "category_seed"


def test_bad_k_is_a_usage_error(published) -> None:
    assert run("similar", "x.jpg", "--k", "0").exit_code == 2


def test_eval_run_json_and_train(published, settings) -> None:
    result = run("eval", "run", "--json", "--models", "random,popularity,visrank")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert set(metrics) == {"random", "popularity", "visrank"}
    assert set(metrics["visrank"]) == {"auc", "recall_at_10", "ndcg_at_10", "recall_at_20", "ndcg_at_20", "mrr"}
    markdown = run("eval", "run", "--models", "popularity", "--no-write")
    assert markdown.exit_code == 0
    assert markdown.output.startswith("# Offline evaluation")
    trained = run("eval", "train", "--epochs", "1")
    assert trained.exit_code == 0
    assert "checkpoint:" in trained.output
    assert (
        run("suggest", published.data.titles[published.unillustrated[0]]).output.split("\n")[0].endswith("curatornet)")
    )


def test_serve_refuses_exposed_bind_without_token(published) -> None:
    from wikivis.errors import ConfigError

    with pytest.raises(ConfigError, match="bearer token"):
        run("serve", "--host", "0.0.0.0")
