"""What a check says: :class:`CheckResult`, and :class:`GateReport` that groups a gate's checks.

Outcomes are plain strings so they travel unchanged into the catalog (``gate_results.outcome``),
JSON and the reports:

* ``pass`` — nothing wrong;
* ``warn`` — something is off but within the tolerated bounds (or the check is listed in
  ``Settings.gate_warn_only``); the run goes on;
* ``fail`` — the run stops: :func:`wikivis.gates.stages.run_gate` raises :class:`~wikivis.errors.GateFailed`.

Every non-passing result carries an *example row* — the first offending row as a dict — so
the message a person reads says which dataset, which check and which row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Outcome = Literal["pass", "warn", "fail"]
PASS: Outcome = "pass"
WARN: Outcome = "warn"
FAIL: Outcome = "fail"
_SEVERITY = {PASS: 0, WARN: 1, FAIL: 2}

#: longest string value shown in an example row (longer ones are cut with an ellipsis)
_MAX_VALUE_CHARS = 120


def jsonable(value: Any) -> Any:
    """Turn numpy/pyarrow scalars, bytes, NaN and tuples into plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE_CHARS else value[: _MAX_VALUE_CHARS - 1] + "…"
    if isinstance(value, (bytes, bytearray)):
        return jsonable(repr(bytes(value[:_MAX_VALUE_CHARS])))
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if hasattr(value, "as_py"):  # pyarrow scalars
        return jsonable(value.as_py())
    return str(value)


def format_row(row: Mapping[str, Any] | None) -> str:
    """An example row as compact JSON (what a person reads in a message)."""
    if row is None:
        return "none"
    return json.dumps(jsonable(row), ensure_ascii=False, sort_keys=False)


def graded(bad_fraction: float, tolerated: float, *, any_bad: bool) -> Outcome:
    """The tolerated-fraction rule: nothing bad → pass, within tolerance → warn, else fail."""
    if not any_bad:
        return PASS
    return WARN if bad_fraction <= tolerated else FAIL


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one dataset.

    ``message`` is the plain-words detail (what was found, against which bound);
    :meth:`describe` prefixes dataset and check and appends the example row.
    """

    name: str
    dataset: str
    outcome: Outcome
    metrics: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    example_row: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.outcome not in _SEVERITY:
            raise ValueError(f"outcome must be pass, warn or fail, not {self.outcome!r}")

    @property
    def failed(self) -> bool:
        return self.outcome == FAIL

    def describe(self) -> str:
        verb = {PASS: "passed", WARN: "warned", FAIL: "failed"}[self.outcome]
        text = f"{self.dataset}: check {self.name!r} {verb}: {self.message}"
        if self.example_row is not None:
            text += f"; example row: {format_row(self.example_row)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "outcome": self.outcome,
            "metrics": jsonable(self.metrics),
            "message": self.message,
            "example_row": jsonable(self.example_row),
        }

    def downgraded(self, why: str) -> CheckResult:
        """This failure as a warning (``Settings.gate_warn_only``)."""
        return replace(self, outcome=WARN, message=f"{self.message} (downgraded to warn: {why})")


def warn_only_matches(result: CheckResult, warn_only: Iterable[str]) -> bool:
    """``gate_warn_only`` entries name a check (``unique``) or a dataset's check
    (``article_images.unique``)."""
    names = set(warn_only)
    return result.name in names or f"{result.dataset}.{result.name}" in names


def apply_warn_only(results: Sequence[CheckResult], warn_only: Iterable[str]) -> list[CheckResult]:
    names = tuple(warn_only)
    return [
        r.downgraded("listed in gate_warn_only") if r.failed and warn_only_matches(r, names) else r
        for r in results
    ]


@dataclass
class GateReport:
    """All checks of one gate run, plus the rows it set aside.

    ``quarantine`` is a table with the ``quarantine`` dataset schema (or ``None``).
    """

    stage: str
    results: list[CheckResult]
    wiki: str | None = None
    snapshot: str | None = None
    quarantine: Any = None  # pa.Table | None; typed loosely to keep this module light
    #: the catalog run the results were recorded under (set by run_gate)
    run_id: str | None = None

    @property
    def outcome(self) -> Outcome:
        worst = max((_SEVERITY[r.outcome] for r in self.results), default=0)
        return next(o for o, s in _SEVERITY.items() if s == worst)

    @property
    def ok(self) -> bool:
        return self.outcome != FAIL

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == FAIL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == WARN]

    def result(self, name: str, dataset: str | None = None) -> CheckResult:
        """The result of check ``name`` (on ``dataset``); KeyError when absent."""
        for r in self.results:
            if r.name == name and (dataset is None or r.dataset == dataset):
                return r
        raise KeyError(f"no check {name!r}{f' on {dataset}' if dataset else ''} in gate {self.stage!r}")

    def where(self) -> str:
        parts = [p for p in (self.wiki, f"snapshot {self.snapshot}" if self.snapshot else None) if p]
        return f" ({', '.join(parts)})" if parts else ""

    def failure_message(self) -> str:
        failures = self.failures
        head = f"gate {self.stage!r}{self.where()} failed: {len(failures)} check(s) failed"
        return "\n".join([head, *(f"  - {r.describe()}" for r in failures)])

    def summary(self) -> str:
        counts = {o: sum(r.outcome == o for r in self.results) for o in _SEVERITY}
        lines = [
            f"gate {self.stage!r}{self.where()}: {self.outcome} "
            f"({counts[PASS]} pass, {counts[WARN]} warn, {counts[FAIL]} fail)"
        ]
        lines += [f"  [{r.outcome}] {r.describe()}" for r in self.results]
        if self.quarantine is not None and self.quarantine.num_rows:
            lines.append(f"  quarantined: {self.quarantine.num_rows} row(s)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "wiki": self.wiki,
            "snapshot": self.snapshot,
            "outcome": self.outcome,
            "results": [r.to_dict() for r in self.results],
            "quarantined": 0 if self.quarantine is None else self.quarantine.num_rows,
            "run_id": self.run_id,
        }
