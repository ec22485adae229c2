"""Calibration: logistic fit, isotonic (PAV) monotonicity, Wilson bounds, bands."""

from __future__ import annotations

import numpy as np
import pytest

from wikivis.recommend.confidence import Calibrator, apply_isotonic, band, fit_isotonic, fit_logistic, wilson_lower


def test_isotonic_is_monotone_and_pools_violators() -> None:
    thresholds, values = fit_isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    assert list(values) == [0.0, 0.5, 1.0]
    assert list(apply_isotonic(thresholds, values, np.array([0.0, 0.25, 0.35, 0.9]))) == [0.0, 0.5, 0.5, 1.0]
    _, bounded = fit_isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]), z=1.0)
    assert np.all(np.diff(bounded) >= 0) and bounded[-1] < 1.0  # one right answer does not claim 100 %


def test_wilson_lower_bound() -> None:
    assert wilson_lower(np.array([0.9]), np.array([1000]), 1.0)[0] == pytest.approx(0.8905, abs=1e-3)
    assert wilson_lower(np.array([1.0]), np.array([3]), 1.0)[0] == pytest.approx(0.75)
    assert wilson_lower(np.array([0.5]), np.array([10]), 0.0)[0] == pytest.approx(0.5)


def test_calibrated_confidence_matches_measured_precision() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(2 * x[:, 0] - x[:, 1])))
    y = (rng.random(4000) < p).astype(float)
    w = fit_logistic(x, y)
    assert w[1] == pytest.approx(2, abs=0.3) and w[2] == pytest.approx(-1, abs=0.3)
    cal = Calibrator.fit(x, y, ("a", "b"), groups=np.arange(4000) // 4, z=0.5)
    xt = rng.normal(size=(4000, 2))
    yt = rng.random(4000) < 1 / (1 + np.exp(-(2 * xt[:, 0] - xt[:, 1])))
    conf = cal.confidence(xt)
    assert conf.min() >= 0 and conf.max() <= 1
    high = conf >= 0.8
    assert high.sum() > 100 and yt[high].mean() >= 0.8


def test_calibration_needs_both_labels_and_bands_have_wikimedias_names() -> None:
    with pytest.raises(ValueError, match="positive and negative"):
        Calibrator.fit(np.zeros((3, 1)), np.ones(3), ("a",))
    assert [band(c) for c in (0.95, 0.8, 0.79, 0.5, 0.1)] == ["high", "high", "medium", "medium", "low"]
