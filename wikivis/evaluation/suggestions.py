"""``wikivis eval suggestions``: image suggestions for articles whose images are hidden.

Protocol: the illustrated articles (with at least one image that passes Wikimedia's
filters) are shuffled with ``seed`` and split in two halves.  On the *calibration* half
each method's candidates are labelled (is the file one of the article's images?) and its
:class:`~wikivis.recommend.confidence.Calibrator` is fitted.  On the *test* half every
article is treated as unillustrated (its images hidden, also from the usage counts) and
gets up to ``k`` suggestions; the truth is its images.

Metrics per method (:data:`wikivis.recommend.signals.METHODS`):

* **coverage** — share of test articles with at least one suggestion;
* **precision@1** — share of covered articles whose first suggestion is right;
* **recall@10** — mean over all test articles of |top-10 ∩ truth| / |truth|;
* per confidence band of the *first* suggestion (high ≥ 0.8, medium ≥ 0.5, low): the
  share of test articles in the band and their precision@1;
* ``precision_conf_ge_0.8`` — precision of every suggestion (any rank) with confidence
  ≥ 0.8: the calibration promise.

Comparisons: the combination against the rules at **equal coverage** (the combination's
most confident articles, as many as the rules cover) and at **equal precision** (the
largest most-confident share of articles whose precision is at least the rules').
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wikivis.recommend.confidence import BANDS, HIGH, Calibrator
from wikivis.recommend.signals import FEATURES, METHODS, Method, Signals, labelled, rank, truth_of


def split_articles(signals: Signals, seed: int = 0) -> tuple[list[int], list[int]]:
    """(calibration, test) page ids: illustrated articles, shuffled, halved."""
    pages = sorted(p for p in signals.page_files if truth_of(signals, p))
    random.Random(seed).shuffle(pages)
    half = len(pages) // 2
    return sorted(pages[:half]), sorted(pages[half:])


def precision_at_coverage(conf: Sequence[float], hits: Sequence[bool], n_total: int, coverage: float) -> float | None:
    """Precision@1 of the ``coverage`` share (of ``n_total``) most confident covered articles."""
    order = np.argsort(-np.asarray(conf, dtype=np.float64), kind="stable")
    n = round(coverage * n_total)
    if n <= 0 or n > len(order):
        return None
    return float(np.mean(np.asarray(hits, dtype=np.float64)[order[:n]]))


def coverage_at_precision(conf: Sequence[float], hits: Sequence[bool], n_total: int, precision: float) -> float:
    """The largest share of ``n_total`` articles, most confident first, with precision ≥ ``precision``."""
    order = np.argsort(-np.asarray(conf, dtype=np.float64), kind="stable")
    h = np.asarray(hits, dtype=np.float64)[order]
    if not len(h) or n_total <= 0:
        return 0.0
    running = np.cumsum(h) / np.arange(1, len(h) + 1)
    ok = np.nonzero(running >= precision - 1e-12)[0]
    return float((ok[-1] + 1) / n_total) if len(ok) else 0.0


@dataclass
class MethodResult:
    method: str
    coverage: float
    precision_at_1: float
    recall_at_10: float
    bands: dict[str, dict[str, float]]
    precision_conf_ge_high: float | None
    n_conf_ge_high: int
    top1_conf: list[float] = field(default_factory=list, repr=False)
    top1_hit: list[bool] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("top1_conf", "top1_hit")}


@dataclass
class SuggestionEval:
    n_calibration: int
    n_test: int
    methods: dict[str, MethodResult]
    comparisons: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return {"n_calibration": self.n_calibration, "n_test": self.n_test,
                "methods": {m: r.to_dict() for m, r in self.methods.items()}, "comparisons": self.comparisons}


def evaluate_method(signals: Signals, method: Method, calibration: Sequence[int], test: Sequence[int],
                    *, k: int = 10) -> MethodResult:
    x, y, groups = labelled(signals, calibration, method)
    calibrator = Calibrator.fit(x, y, FEATURES[method], groups=groups) if len(y) and 0 < y.sum() < len(y) else None
    conf1: list[float] = []
    hit1: list[bool] = []
    recalls: list[float] = []
    confident = [0, 0]
    in_band = {b: [0, 0] for b in BANDS}
    for p in test:
        truth = truth_of(signals, p)
        ranked = rank(signals, p, method, calibrator, k=k, hidden=True)
        recalls.append(len({s.file_name for s in ranked[:10]} & truth) / len(truth))
        for s in ranked:
            if s.confidence >= HIGH:
                confident[0] += 1
                confident[1] += s.file_name in truth
        if ranked:
            top = ranked[0]
            conf1.append(top.confidence)
            hit1.append(top.file_name in truth)
            in_band[top.band][0] += 1
            in_band[top.band][1] += top.file_name in truth
    n = len(test)
    bands: dict[str, dict[str, float]] = {b: {"coverage": c / n if n else 0.0, "precision_at_1": (h / c) if c else float("nan"), "articles": c}
             for b, (c, h) in in_band.items()}
    return MethodResult(
        method=method,
        coverage=len(conf1) / n if n else 0.0,
        precision_at_1=float(np.mean(hit1)) if hit1 else 0.0,
        recall_at_10=float(np.mean(recalls)) if recalls else 0.0,
        bands=bands,
        precision_conf_ge_high=(confident[1] / confident[0]) if confident[0] else None,
        n_conf_ge_high=confident[0],
        top1_conf=conf1,
        top1_hit=hit1,
    )


def evaluate_suggestions(signals: Signals, *, seed: int = 0, k: int = 10,
                         methods: Sequence[Method] = METHODS) -> SuggestionEval:
    calibration, test = split_articles(signals, seed)
    results: dict[str, MethodResult] = {m: evaluate_method(signals, m, calibration, test, k=k) for m in methods}
    comparisons: dict[str, float | None] = {}
    if "rules" in results and "combined" in results:
        rules, combined = results["rules"], results["combined"]
        n = len(test)
        comparisons["rules_coverage"] = rules.coverage
        comparisons["rules_precision_at_1"] = rules.precision_at_1
        comparisons["combined_precision_at_rules_coverage"] = precision_at_coverage(
            combined.top1_conf, combined.top1_hit, n, rules.coverage)
        comparisons["combined_coverage_at_rules_precision"] = coverage_at_precision(
            combined.top1_conf, combined.top1_hit, n, rules.precision_at_1)
    return SuggestionEval(len(calibration), len(test), results, comparisons)


def _pct(value: float | None) -> str:
    if value is None or value != value:
        return "–"
    return f"{100 * value:.1f} %"


def render_markdown(result: SuggestionEval) -> str:
    lines = [
        f"Held-out articles: {result.n_test} (calibration: {result.n_calibration}); images hidden, truth = "
        "the article's images that pass Wikimedia's filters.",
        "",
        "| method | coverage | precision@1 | recall@10 | high: share / P@1 | medium: share / P@1 | low: share / P@1 "
        "| precision at conf ≥ 0.8 (n) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result.methods.items():
        bands = [f"{_pct(r.bands[b]['coverage'])} / {_pct(r.bands[b]['precision_at_1'])}" for b in BANDS]
        lines.append(f"| {name} | {_pct(r.coverage)} | {_pct(r.precision_at_1)} | {_pct(r.recall_at_10)} | "
                     f"{' | '.join(bands)} | {_pct(r.precision_conf_ge_high)} ({r.n_conf_ge_high}) |")
    c = result.comparisons
    if c:
        lines += [
            "",
            f"- equal coverage ({_pct(c['rules_coverage'])}): rules precision@1 {_pct(c['rules_precision_at_1'])}, "
            f"combined {_pct(c['combined_precision_at_rules_coverage'])}",
            f"- equal precision ({_pct(c['rules_precision_at_1'])}): rules coverage {_pct(c['rules_coverage'])}, "
            f"combined {_pct(c['combined_coverage_at_rules_precision'])}",
        ]
    return "\n".join(lines) + "\n"
