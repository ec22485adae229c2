"""CheckResult / GateReport behaviour: messages, JSON-safe metrics, warn-only matching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wikivis.gates.results import CheckResult, GateReport, apply_warn_only, graded, jsonable


def test_describe_names_dataset_check_and_example_row():
    r = CheckResult("unique", "files", "fail", {}, "2 rows repeat", {"file_name": "A.jpg", "size": np.int64(3)})
    assert r.describe() == 'files: check \'unique\' failed: 2 rows repeat; example row: {"file_name": "A.jpg", "size": 3}'


def test_outcome_is_validated():
    with pytest.raises(ValueError, match="pass, warn or fail"):
        CheckResult("x", "d", "error")


def test_report_outcome_is_the_worst():
    report = GateReport("s", [CheckResult("a", "d", "pass"), CheckResult("b", "d", "warn")])
    assert report.outcome == "warn"
    assert report.ok
    report.results.append(CheckResult("c", "d", "fail", message="boom"))
    assert report.outcome == "fail"
    assert not report.ok
    assert "d: check 'c' failed: boom" in report.failure_message()
    assert json.loads(json.dumps(report.to_dict()))["outcome"] == "fail"


def test_warn_only_by_check_or_dataset_check():
    results = [CheckResult("unique", "files", "fail"), CheckResult("unique", "pages", "fail"), CheckResult("values", "pages", "fail")]
    settled = apply_warn_only(results, ("files.unique", "values"))
    assert [r.outcome for r in settled] == ["warn", "fail", "warn"]


def test_jsonable_and_graded():
    assert jsonable({"a": np.float32(1.5), "b": (1, 2), "c": float("nan"), "d": b"\x00", "e": "x" * 500}) == {
        "a": 1.5, "b": [1, 2], "c": "nan", "d": "b'\\x00'", "e": "x" * 119 + "…"}
    assert graded(0.0, 0.1, any_bad=False) == "pass"
    assert graded(0.05, 0.1, any_bad=True) == "warn"
    assert graded(0.2, 0.1, any_bad=True) == "fail"
