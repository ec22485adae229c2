"""Calibrated confidence for image suggestions: a logistic model on signal features, then
isotonic regression, fitted on held-out links.

Wikimedia publishes its image suggestions with a confidence and reports precision per band
(high ≈ 85 %, medium ≈ 58 %).  Here the confidence of a candidate is an estimate of
P(the candidate is one of the article's images | its signals):

1. a logistic regression (Newton–Raphson/IRLS with a small L2 penalty; numpy only) turns the
   feature vector into a score — Platt's idea, on several features instead of one;
2. isotonic regression (pool-adjacent-violators) maps that score to the *measured* share of
   correct candidates at that score, measured on out-of-fold scores (2-fold cross-fitting
   over calibration articles), each block's share taken at its Wilson lower bound (z = 0.5): so that
   "confidence ≥ 0.8" means "≥ 80 % of such candidates were right", conservatively.

Bands are Wikimedia's names with fixed edges: high ≥ :data:`HIGH`, medium ≥ :data:`MEDIUM`,
low below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Band = Literal["high", "medium", "low"]
BANDS: tuple[Band, ...] = ("high", "medium", "low")
HIGH = 0.8
MEDIUM = 0.5


def band(confidence: float) -> Band:
    if confidence >= HIGH:
        return "high"
    if confidence >= MEDIUM:
        return "medium"
    return "low"


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, iterations: int = 50) -> np.ndarray:
    """Weights (bias first) of a logistic regression; ``x`` is (n, d) without the bias column."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"need x (n, d) and y (n,), got {x.shape} and {y.shape}")
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        gradient = xb.T @ (p - y) + penalty * w
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def logistic_score(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    values: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(w[0] + x @ w[1:], -30, 30)))
    return values


def wilson_lower(p: np.ndarray, n: np.ndarray, z: float) -> np.ndarray:
    """Lower end of the Wilson score interval of a share ``p`` measured on ``n`` examples."""
    p = np.asarray(p, dtype=np.float64)
    n = np.maximum(np.asarray(n, dtype=np.float64), 1e-9)
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    values: np.ndarray = np.clip((centre - spread) / (1 + z * z / n), 0.0, 1.0)
    return values


def fit_isotonic(scores: np.ndarray, y: np.ndarray, *, z: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: (thresholds, values) of a non-decreasing step function.

    With ``z > 0`` each block's value is the Wilson lower bound of its share (a block of
    three right answers does not claim 100 %), made non-decreasing again."""
    order = np.argsort(scores, kind="stable")
    s = np.asarray(scores, dtype=np.float64)[order]
    t = np.asarray(y, dtype=np.float64)[order]
    values: list[float] = []
    weights: list[float] = []
    lows: list[float] = []
    for score, target in zip(s, t, strict=True):
        values.append(target)
        weights.append(1.0)
        lows.append(score)
        while len(values) > 1 and values[-2] > values[-1]:
            w = weights[-2] + weights[-1]
            v = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w
            values[-2:] = [v]
            weights[-2:] = [w]
            lows[-2:] = [lows[-2]]
    out = np.asarray(values)
    if z > 0:
        out = np.maximum.accumulate(wilson_lower(out, np.asarray(weights), z))
    return np.asarray(lows), out


def apply_isotonic(thresholds: np.ndarray, values: np.ndarray, scores: np.ndarray) -> np.ndarray:
    if len(thresholds) == 0:
        return np.zeros(len(scores))
    idx = np.searchsorted(thresholds, np.asarray(scores, dtype=np.float64), side="right") - 1
    return values[np.clip(idx, 0, len(values) - 1)]


@dataclass(frozen=True)
class Calibrator:
    """Features → calibrated confidence in [0, 1]."""

    weights: np.ndarray
    thresholds: np.ndarray
    values: np.ndarray
    feature_names: tuple[str, ...]

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, feature_names: tuple[str, ...], *, l2: float = 1e-2,
        groups: np.ndarray | None = None, z: float = 0.5,
    ) -> Calibrator:
        """Logistic weights on ``x``; isotonic (Wilson lower bounds, ``z``) on *out-of-fold*
        logistic scores: the rows are split in two folds (``groups``, e.g. page ids, keeps one
        article's rows in one fold), each fold is scored by weights fitted on the other, so the
        map from score to share is measured on rows its weights never saw.  Callers pass
        held-out links (articles the suggestions are *not* evaluated on)."""
        y = np.asarray(y, dtype=np.float64)
        if len(y) == 0 or len(set(y.tolist())) < 2:
            raise ValueError("calibration needs positive and negative examples")
        keys = np.asarray(groups) if groups is not None else np.arange(len(y))
        fold = (np.unique(keys, return_inverse=True)[1] % 2) == 0
        scores = np.empty(len(y))
        for part in (fold, ~fold):
            train = ~part
            if not part.any():
                continue
            if len(set(y[train].tolist())) < 2:  # too few rows to cross-fit: in-sample scores
                scores[part] = logistic_score(fit_logistic(x, y, l2=l2), x[part])
            else:
                scores[part] = logistic_score(fit_logistic(x[train], y[train], l2=l2), x[part])
        w = fit_logistic(x, y, l2=l2)
        thresholds, values = fit_isotonic(scores, y, z=z)
        return cls(w, thresholds, values, feature_names)

    def confidence(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0)
        values: np.ndarray = np.clip(apply_isotonic(self.thresholds, self.values, logistic_score(self.weights, x)), 0.0, 1.0)
        return values
