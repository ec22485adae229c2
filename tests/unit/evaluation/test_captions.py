"""Caption matching: metrics, baselines, the contrastive model, and the lake/WIT/CLI paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from wikivis.cli import _common
from wikivis.cli import app as wikivis_app
from wikivis.errors import InputError, NotFoundError
from wikivis.evaluation.captions import (
    CaptionTable,
    ContrastiveConfig,
    FrequentWords,
    captions_from_wit,
    evaluate_captions,
    render_captions_markdown,
    split_images,
    synthetic_captions,
    text_features,
    title_and_reference,
)
from wikivis.recommend.synthetic import lake_table, publish_synthetic

FAST = ContrastiveConfig(epochs=12, dim=32)


@pytest.fixture(scope="module")
def result():
    return evaluate_captions(synthetic_captions(n_images=160, dim=32), device="cpu", config=FAST)


def test_learned_model_beats_baselines(result) -> None:
    m = result.metrics
    assert list(m) == ["random", "frequent_words", "contrastive"]
    assert list(m["random"]) == ["recall_at_1", "recall_at_5", "recall_at_10", "mrr"]
    assert m["contrastive"]["mrr"] > 2 * max(m["random"]["mrr"], m["frequent_words"]["mrr"])
    assert m["contrastive"]["recall_at_10"] > m["random"]["recall_at_10"] + 0.2
    losses = result.training["contrastive"]["epoch_losses"]
    assert losses[-1] < losses[0]
    text = render_captions_markdown(result, "synthetic")
    assert "| contrastive |" in text


def test_split_holds_out_images_not_rows() -> None:
    table = synthetic_captions(n_images=40, captions_per_image=3)
    train, test = split_images(table, 0.25, seed=1)
    assert sorted(train + test) == list(range(len(table)))
    assert not {table.image_ids[r] for r in train} & {table.image_ids[r] for r in test}
    assert split_images(table, 0.25, seed=1) == (train, test)
    with pytest.raises(InputError, match="at least 4"):
        split_images(CaptionTable(["a", "b"], ["x", "y"], {}), 0.5)


def test_metrics_on_a_perfect_and_a_worst_scorer() -> None:
    """Each image's only caption names it: a lookup scorer gets MRR 1, the reverse gets 1/n."""
    n = 10
    vectors = {f"i{k}": np.eye(n, dtype=np.float32)[k] for k in range(n)}
    table = CaptionTable([f"i{k}" for k in range(n)], [f"c{k}" for k in range(n)], vectors)

    class Lookup:
        name = "lookup"
        sign = 1.0

        def fit(self, table, rows):
            pass

        def score(self, v, captions):
            k = int(np.argmax(v))
            return np.array([self.sign * (c == f"c{k}") for c in captions], dtype=float)

    from wikivis.evaluation import captions as mod

    orig = mod.make_caption_scorer
    try:
        mod.make_caption_scorer = lambda name, **kw: Lookup()  # type: ignore[assignment]
        perfect = evaluate_captions(table, models=["lookup"], test_share=0.5, ks=(1,)).metrics["lookup"]
        Lookup.sign = -1.0
        worst = evaluate_captions(table, models=["lookup"], test_share=0.5, ks=(1,)).metrics["lookup"]
    finally:
        mod.make_caption_scorer = orig
    assert perfect == {"recall_at_1": 1.0, "mrr": 1.0}
    assert worst["recall_at_1"] == 0.0
    assert worst["mrr"] == pytest.approx(1 / 5)


def test_features_and_baselines() -> None:
    assert title_and_reference("Red_fox", "A fox") == "Red fox [SEP] A fox"
    assert title_and_reference(None, "A fox") == "A fox"
    ids = text_features("ثعلب أحمر", 1024)  # RTL text hashes like any other
    assert ids and all(0 <= i < 1024 for i in ids)
    assert text_features("", 16) == [0]
    table = CaptionTable(["a", "b"], ["common word", "rare"], {"a": np.ones(2), "b": np.ones(2)})
    fw = FrequentWords()
    fw.fit(table, [0, 0, 1])
    s = fw.score(np.ones(2), ["common", "unseen", "rare"])
    assert s[0] > s[2] > s[1]
    with pytest.raises(ValueError, match="unknown caption model"):
        evaluate_captions(synthetic_captions(n_images=20), models=["bogus"])


def test_from_wit_rows() -> None:
    rows = [
        {"file_name": "A.jpg", "page_title": "Fox", "caption_reference_description": "A fox"},
        {"file_name": "B.jpg", "page_title": "Den", "caption_reference_description": ""},
        {"file_name": "C.jpg", "page_title": "X", "caption_reference_description": "no vector"},
    ]
    table = captions_from_wit(rows, {"A.jpg": "s1", "B.jpg": "s2", "C.jpg": "s3"}, {"s1": np.ones(3), "s2": np.ones(3)})
    assert table.captions == ["Fox [SEP] A fox"]
    assert table.image_ids == ["s1"]


def test_cli_from_lake(settings, monkeypatch) -> None:
    synth = publish_synthetic(settings, dim=16, n_articles=60, n_images=80, n_topics=4)
    monkeypatch.setattr(_common.STATE, "_settings", settings)
    monkeypatch.setattr(_common.STATE, "as_json", False)
    runner = CliRunner()
    with pytest.raises(NotFoundError, match="article_image_captions"):
        runner.invoke(wikivis_app, ["eval", "captions"], catch_exceptions=False)
    from wikivis.lake import Lake

    wiki = settings.wikis[0]
    words = ["river", "castle", "forest", "harbour"]
    links = synth.data.interactions.to_pydict()
    sha1 = synth.data.file_sha1
    rows = {"wiki": [], "page_id": [], "position": [], "file_name": [], "caption": [], "source": []}
    for k, (pid, name) in enumerate(zip(links["page_id"], links["file_name"], strict=True)):
        topic = synth.topic_of_sha1.get(sha1.get(name, ""), 0)
        for key, value in (("wiki", wiki), ("page_id", pid), ("position", k), ("file_name", name),
                           ("caption", f"a {words[topic % 4]} view"), ("source", "link")):
            rows[key].append(value)
    lake = Lake.from_settings(settings)
    lake.write("article_image_captions", wiki, "20260101", lake_table("article_image_captions", rows))
    lake.publish("article_image_captions", wiki, "20260101")
    result = runner.invoke(wikivis_app, ["eval", "captions", "--models", "random,frequent_words", "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)) == {"random", "frequent_words"}


def test_demo_caption_table_says_why_when_there_are_no_captions(settings) -> None:
    from wikivis.demo import caption_matching

    publish_synthetic(settings, dim=8, n_articles=20, n_images=30, n_topics=2)
    assert "article_image_captions" in caption_matching(settings)["note"]
