"""Suggestion evaluation: matched-coverage / matched-precision metrics, and the protocol on a
hand-made wiki where the right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from wikivis.evaluation.suggestions import (
    coverage_at_precision,
    evaluate_suggestions,
    precision_at_coverage,
    split_articles,
    truth_of,
)
from wikivis.recommend.signals import Signals, candidates, rank


def test_precision_at_coverage_and_coverage_at_precision() -> None:
    conf = [0.9, 0.8, 0.7, 0.6]
    hits = [True, True, False, True]
    assert precision_at_coverage(conf, hits, 8, 0.25) == 1.0  # the 2 most confident of 8 articles
    assert precision_at_coverage(conf, hits, 8, 0.5) == 0.75
    assert precision_at_coverage(conf, hits, 8, 0.75) is None  # more than were covered
    assert coverage_at_precision(conf, hits, 8, 1.0) == 0.25
    assert coverage_at_precision(conf, hits, 8, 0.7) == 0.5
    assert coverage_at_precision([], [], 8, 0.5) == 0.0


def tiny_signals(n: int = 80) -> Signals:
    """Articles i use A_i.jpg (+ Icon.svg on all); P18 names A_i on 3 of 4 items, a wrong file
    on the rest; cross-wiki leads name A_i on even items; one shared category per topic."""
    rng = np.random.default_rng(1)
    titles = {i: f"Article_{i}" for i in range(1, n + 1)}
    page_files = {i: [f"A_{i}.jpg", "Flag_of_Nowhere.svg"] for i in titles}
    categories = {i: [f"Topic_{i % 4}"] for i in titles}
    items = {i: f"Q{100 + i}" for i in titles}
    p18 = {f"Q{100 + i}": ((f"A_{i}.jpg",) if i % 4 else (f"A_{i % n + 1}.jpg",)) for i in titles}
    crosswiki = {f"Q{100 + i}": {"dewiki": f"A_{i}.jpg"} for i in titles if i % 2 == 0}
    centres = rng.normal(size=(4, 8))
    vectors = {f"A_{i}.jpg": centres[i % 4] + 0.1 * rng.normal(size=8) for i in titles}
    return Signals(titles, page_files, categories, items, p18, {}, {}, crosswiki, frozenset(), vectors, max_usage=99)


def test_filters_hide_overused_and_blacklisted_files() -> None:
    s = tiny_signals()
    assert truth_of(s, 1) == {"A_1.jpg"}  # the flag is both over-used and blacklisted
    names = {c.file_name for c in candidates(s, 4, "combined", hidden=True)}
    assert "Flag_of_Nowhere.svg" not in names and "A_5.jpg" in names  # item 4's P18 is wrong on purpose


def test_protocol_on_a_known_wiki() -> None:
    s = tiny_signals()
    calibration, test = split_articles(s, seed=0)
    assert not set(calibration) & set(test) and len(calibration) + len(test) == 80
    result = evaluate_suggestions(s, seed=0)
    rules, combined = result.methods["rules"], result.methods["combined"]
    assert rules.coverage == 1.0 and rules.precision_at_1 == pytest.approx(0.75, abs=0.1)
    assert combined.precision_at_1 >= rules.precision_at_1  # P18 + cross-wiki agreement ranks first
    assert 0.0 <= combined.bands["high"]["coverage"] <= 1.0
    top = rank(s, 2, "combined", None, hidden=True)[0]
    assert top.file_name == "A_2.jpg" and {"p18", "crosswiki"} <= {x.split(":")[0] for x in top.sources}
