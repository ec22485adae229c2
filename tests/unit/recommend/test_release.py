"""Weekly training: versioned candidates, and the gate that decides what serving loads."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from wikivis.errors import GateFailed, NotFoundError
from wikivis.recommend.curatornet import CuratorNetConfig, checkpoint_path, load_checkpoint
from wikivis.recommend.release import current_release, judge, promote, train_candidate, versions_dir
from wikivis.recommend.synthetic import publish_synthetic

FAST = CuratorNetConfig(epochs=2, hidden=32, profile_hidden=32)


def test_judge() -> None:
    current = {"recall_at_10": 0.30, "ndcg_at_10": 0.20}
    assert judge({"recall_at_10": 0.1, "ndcg_at_10": 0.1}, None, 0.01) == []
    assert judge({"recall_at_10": 0.295, "ndcg_at_10": 0.25}, current, 0.01) == []
    reasons = judge({"recall_at_10": 0.25, "ndcg_at_10": 0.25}, current, 0.01)
    assert len(reasons) == 1 and reasons[0].startswith("recall_at_10 0.2500 < current 0.3000")
    assert judge({"ndcg_at_10": 0.25}, current, 0.01)  # a missing metric cannot pass


def test_first_candidate_is_promoted_a_regression_is_not(settings) -> None:
    publish_synthetic(settings, dim=16, n_articles=80, n_images=100, n_topics=4)
    wiki, model = settings.wikis[0], settings.model
    first = train_candidate(settings, config=FAST)
    served = checkpoint_path(settings.home, wiki, model)
    assert not served.exists()  # training alone never touches serving
    verdict = promote(settings, first["version"])
    assert verdict.passed and verdict.current is None
    assert served.is_file()
    assert load_checkpoint(served, device="cpu").meta["version"] == first["version"]
    assert current_release(settings, wiki, model)["version"] == first["version"]

    # a worse candidate: pretend the current model scored far higher
    pointer = versions_dir(settings, wiki, model) / "current.json"
    state = json.loads(pointer.read_text())
    state["metrics"] = {k: 1.0 for k in state["metrics"]}
    pointer.write_text(json.dumps(state))
    second = train_candidate(settings, config=replace(FAST, seed=1))
    before = served.read_bytes()
    with pytest.raises(GateFailed, match="not promoted"):
        promote(settings, second["version"])
    assert served.read_bytes() == before  # serving kept the current model
    gate = json.loads((versions_dir(settings, wiki, model) / second["version"] / "gate.json").read_text())
    assert gate["passed"] is False and gate["current"] == first["version"]
    assert current_release(settings, wiki, model)["version"] == first["version"]
    with pytest.raises(NotFoundError):
        promote(settings, "v-nope")
