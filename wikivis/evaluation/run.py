"""Run an offline evaluation and write its report.

Protocol (one line per choice, so the numbers can be reproduced and compared):

* split: :func:`~wikivis.evaluation.split.holdout_split` — one held-out image per
  article with ≥ 2 usable images (temporal when timestamps exist, else seeded random);
* candidates per article: every usable catalogue image except the article's training
  images (the held-out image is among them);
* metrics per article from :mod:`wikivis.evaluation.metrics` (standard nDCG, exact AUC,
  score ties in a seeded random order), macro-averaged over articles;
* models: ``random``, ``popularity``, ``visrank``, ``vbpr``, ``dvbpr``, ``curatornet``,
  ``acf`` — the tutorial's visual baselines; the trained ones see the training links only,
  never held-out ones.  A model that cannot run on the data (DVBPR without images in the
  media store) is skipped and the report says why.

:func:`evaluate` returns ``{model: {metric: value}}``; :func:`run_evaluation` also
returns the split size, filter drops, training metadata and per-article scoring latency
(p50/p95), which go into the Markdown report only (the JSON stays metrics-only).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wikivis.config import chosen_model_id
from wikivis.evaluation.metrics import auc, mean_metrics, ndcg_at_k, ranks_from_scores, recall_at_k, reciprocal_rank
from wikivis.evaluation.models import MODEL_NAMES, ModelUnavailable, PixelSource, TrainedScorer, make_scorer
from wikivis.evaluation.split import Split, holdout_split
from wikivis.recommend.curatornet import CuratorNetConfig
from wikivis.recommend.data import RecData
from wikivis.recommend.filters import ImageFilter, filter_reasons
from wikivis.vocab import staged_path

if TYPE_CHECKING:
    from wikivis.config import Settings

DEFAULT_KS: tuple[int, ...] = (10, 20)


def metric_names(ks: Sequence[int] = DEFAULT_KS) -> list[str]:
    names = ["auc"]
    for k in ks:
        names += [f"recall_at_{k}", f"ndcg_at_{k}"]
    return [*names, "mrr"]


@dataclass(frozen=True)
class EvalResult:
    metrics: dict[str, dict[str, float]]
    n_users: int
    n_items: int
    n_candidates: int
    split_method: str
    seed: int
    filters_applied: bool
    filter_drops: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    wiki: str = ""
    model_id: str = ""
    skipped: dict[str, str] = field(default_factory=dict)


def user_metrics(
    scores: np.ndarray,
    candidates: np.ndarray,
    relevant: np.ndarray,
    ks: Sequence[int],
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """All metrics for one article: rank ``candidates`` (mask) by ``scores``, random ties."""
    ranks = ranks_from_scores(scores[candidates], relevant[candidates], ties="random", rng=rng)
    n = int(candidates.sum())
    out = {"auc": auc(ranks, n)}
    for k in ks:
        out[f"recall_at_{k}"] = recall_at_k(ranks, k)
        out[f"ndcg_at_{k}"] = ndcg_at_k(ranks, k)
    out["mrr"] = reciprocal_rank(ranks)
    return out


def evaluate_data(
    data: RecData,
    *,
    models: Sequence[str] = MODEL_NAMES,
    ks: Sequence[int] = DEFAULT_KS,
    seed: int = 0,
    apply_filters: bool = True,
    config: CuratorNetConfig | None = None,
    device: str = "auto",
    wiki: str = "",
    model_id: str = "",
    pixels: PixelSource | None = None,
) -> EvalResult:
    """Evaluate ``models`` on ``data`` (see module doc); ``pixels`` feeds DVBPR."""
    image_filter = ImageFilter.for_data(data) if apply_filters else None
    split = holdout_split(data, image_filter=image_filter, seed=seed)
    if not split.test:
        raise ValueError("nothing to evaluate: no article has two or more usable images")
    metrics: dict[str, dict[str, float]] = {}
    latency: dict[str, dict[str, float]] = {}
    training: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in models:
        scorer = make_scorer(
            name, seed=seed, config=config or CuratorNetConfig(seed=seed), device=device, pixels=pixels
        )
        started = time.perf_counter()
        try:
            scorer.fit(data, split)
        except ModelUnavailable as exc:
            skipped[name] = str(exc)
            continue
        fit_s = time.perf_counter() - started
        rows, times = _score_users(scorer, split, ks, np.random.default_rng(seed))
        metrics[name] = {m: float(v) for m, v in mean_metrics(rows)[0].items()}
        latency[name] = {
            "p50": float(np.percentile(times, 50)) if times else math.nan,
            "p95": float(np.percentile(times, 95)) if times else math.nan,
            "fit_s": round(fit_s, 3),
        }
        if isinstance(scorer, TrainedScorer):
            training[name] = scorer.meta
    return EvalResult(
        metrics=metrics,
        n_users=split.n_test_users,
        n_items=len(data.item_ids),
        n_candidates=int(split.catalogue.sum()),
        split_method=split.method,
        seed=seed,
        filters_applied=apply_filters,
        filter_drops=dict(filter_reasons(data, image_filter)) if image_filter else {},
        latency_ms=latency,
        training=training,
        wiki=wiki,
        model_id=model_id,
        skipped=skipped,
    )


def _score_users(
    scorer: Any, split: Split, ks: Sequence[int], rng: np.random.Generator
) -> tuple[list[dict[str, float]], list[float]]:
    rows: list[dict[str, float]] = []
    times: list[float] = []
    n = len(split.catalogue)
    for page_id in sorted(split.test):
        profile = split.train[page_id]
        started = time.perf_counter()
        scores = np.asarray(scorer.score(page_id, profile), dtype=np.float64)
        times.append((time.perf_counter() - started) * 1000)
        candidates = split.catalogue.copy()
        candidates[profile] = False
        relevant = np.zeros(n, dtype=bool)
        relevant[split.test[page_id]] = True
        rows.append(user_metrics(scores, candidates, relevant, ks, rng))
    return rows, times


def evaluate(
    settings: Settings,
    *,
    wiki: str | None = None,
    model_id: str | None = None,
    models: Sequence[str] = MODEL_NAMES,
    seed: int = 0,
    write: bool = True,
) -> dict[str, dict[str, float]]:
    """Evaluate on the published data of ``wiki``; ``{model: {metric: value}}``."""
    return run_evaluation(settings, wiki=wiki, model_id=model_id, models=models, seed=seed, write=write)[0].metrics


def run_evaluation(
    settings: Settings,
    *,
    wiki: str | None = None,
    model_id: str | None = None,
    models: Sequence[str] = MODEL_NAMES,
    seed: int = 0,
    config: CuratorNetConfig | None = None,
    write: bool = True,
    as_of: str | None = None,
) -> tuple[EvalResult, Path | None]:
    """Load the data, evaluate, and (with ``write``) store the report; returns (result, folder)."""
    from wikivis.recommend.loading import load_rec_data

    wiki = wiki or settings.wikis[0]
    model_id = chosen_model_id(settings, model_id)
    data = load_rec_data(settings, wiki=wiki, model_id=model_id, as_of=as_of)

    def pixels(sha1s: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        from wikivis.recommend.dvbpr import DVBPRConfig, load_thumbnails

        return load_thumbnails(settings.media_root, sha1s, DVBPRConfig().image_size)

    result = evaluate_data(
        data,
        models=models,
        seed=seed,
        config=config,
        device=settings.device,
        wiki=wiki,
        model_id=model_id,
        pixels=pixels,
    )
    folder = write_report(result, settings.reports_root) if write else None
    return result, folder


def render_markdown(result: EvalResult) -> str:
    names = list(next(iter(result.metrics.values())).keys()) if result.metrics else []
    lines = [
        f"# Offline evaluation{f' — {result.wiki}' if result.wiki else ''}",
        "",
        f"- articles evaluated: {result.n_users} (one held-out image each, {result.split_method} split, "
        f"seed {result.seed})",
        f"- catalogue: {result.n_candidates} rankable images of {result.n_items} with embeddings"
        + (f" ({result.model_id})" if result.model_id else ""),
        f"- Wikimedia filters applied: {'yes' if result.filters_applied else 'no'}"
        + (
            " — removed " + ", ".join(f"{n} {reason}" for reason, n in sorted(result.filter_drops.items()))
            if result.filter_drops
            else ""
        ),
        "- metrics: macro-averaged per article; standard nDCG (ideal over min(|relevant|, k)); exact AUC; "
        "score ties in seeded random order",
        "",
        "| model | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for model, values in result.metrics.items():
        lines.append(f"| {model} | " + " | ".join(_fmt(values[n]) for n in names) + " |")
    for model, why in result.skipped.items():
        lines.append(f"| {model} | skipped: {why} |" + " |" * (len(names) - 1))
    lines += [
        "",
        "Scoring latency per article (ms) and fit time (s):",
        "",
        "| model | p50 | p95 | fit s |",
        "|---|---|---|---|",
    ]
    for model, lat in result.latency_ms.items():
        lines.append(f"| {model} | {lat['p50']:.3f} | {lat['p95']:.3f} | {lat['fit_s']:.3f} |")
    for model, meta in result.training.items():
        losses = meta.get("epoch_losses", [])
        lines += [
            "",
            f"{model}: {meta.get('triplets_seen', meta.get('triples_seen', 0))} triplets over {len(losses)} epochs on {meta.get('device')}, "
            f"loss {losses[0]:.4f} → {losses[-1]:.4f}"
            if losses
            else f"{model}: trained",
        ]
    return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def write_report(result: EvalResult, reports_root: Path) -> Path:
    """``<reports>/eval-<wiki>-<UTC time>/{report.md, metrics.json}``, written atomically."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = Path(reports_root) / f"eval-{result.wiki or 'data'}-{stamp}"
    with staged_path(final) as staging:
        staging.mkdir()
        (staging / "report.md").write_text(render_markdown(result), "utf-8")
        (staging / "metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True) + "\n", "utf-8")
    return final
