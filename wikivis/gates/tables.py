"""Table checks, vectorised with ``pyarrow.compute`` over whole columns.

One function per check; :func:`check_table` runs them all for one dataset.  Every check
returns a :class:`~wikivis.gates.results.CheckResult` whose example row is the first offending
row (for dataset-level checks such as drift or freshness, a small summary row).

Checks and names (what ``Settings.gate_warn_only`` refers to):

``schema``            columns present and castable to the Arrow types of :mod:`wikivis.datasets`
``not_null``          no nulls in non-nullable columns
``unique``            no two rows share the dataset's key (:data:`wikivis.datasets.SORT_KEYS`)
``values``            the value rules of :mod:`wikivis.gates.rules` (ranges, allowed values,
                      patterns) and the ``wiki`` column equal to the partition's wiki
``not_empty``         at least one row (fails for pages, article_images, files, media)
``file_exists``       article_images.file_name found in ``files``; ``page_exists``: page ids
                      found in ``pages`` — missing share within
                      ``Settings.gate_max_dangling_fraction`` warns, above it fails
``row_count_drift``   row count within ``Settings.drift_max_ratio`` of the previous snapshot
``distribution_drift`` summary statistics (rules.DRIFT_PROFILES) within
                      ``Settings.gate_max_distribution_drift`` of the previous snapshot
``freshness``         snapshot no older than ``Settings.gate_max_snapshot_age_days``

Speed (``bench/gates.py``): the lake writes rows sorted by the key, so uniqueness is an
adjacent-row comparison (a hash group-by is the fallback for unsorted input).  Element-wise
rules and references run on a :class:`ColumnView` of the column rather than on every row:
its distinct values when they are counted anyway (``file_name``: one hash group-by, shared
with ``file_exists`` and the Wikimedia filters), else its runs of equal adjacent values (a
page's title and id repeat on each of its rows), weighted back to row counts.  Integer
references use binary search on the sorted target instead of hashing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandera.pandas as pa_pd
import pyarrow as pa
import pyarrow.compute as pc

from wikivis.config import Settings
from wikivis.datasets import schema as dataset_schema
from wikivis.gates.results import FAIL, PASS, WARN, CheckResult, Outcome, graded
from wikivis.gates.rules import (
    COLUMN_RULES,
    DRIFT_PROFILES,
    REFERENCE_CHECK,
    REFERENCES,
    REQUIRED_NON_EMPTY,
    DriftStat,
    pandas_sample,
    unique_key,
)
from wikivis.vocab import SNAPSHOT_RE

#: rows handed to pandera for checks that have no Arrow translation
PANDERA_SAMPLE_ROWS = 10_000


# --------------------------------------------------------------------------- helpers
def row_at(table: pa.Table, index: int) -> dict[str, Any]:
    """Row ``index`` of ``table`` as a dict (the example row of a message)."""
    result: dict[str, Any] = table.slice(index, 1).to_pylist()[0]
    return result


def first_true(mask: pa.ChunkedArray | pa.Array) -> int:
    """Index of the first true value (nulls count as false), or -1."""
    return int(pc.index(pc.fill_null(mask, False), True).as_py())


def count_true(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(pc.fill_null(mask, False)).as_py() or 0)


def as_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def count_distinct(column: pa.ChunkedArray | pa.Array) -> int:
    """Distinct non-null values; O(n) without hashing when an integer column is sorted."""
    if pa.types.is_integer(column.type) and column.null_count == 0 and len(column) > 1:
        values = as_array(column).to_numpy()
        steps = np.diff(values)
        if (steps >= 0).all():
            return int(np.count_nonzero(steps)) + 1
    return int(pc.count_distinct(column).as_py())


def value_counts(table: pa.Table, column: str) -> pa.Table:
    """Distinct values of ``column`` with their row counts: columns ``value``, ``rows``."""
    counted = table.select([column]).group_by(column).aggregate([([], "count_all")])
    return pa.table({"value": counted.column(column), "rows": counted.column("count_all")})


def parse_snapshot(snapshot: str) -> datetime:
    """``YYYYMMDD`` (a dump) or ``YYYYMMDDTHHMMSSZ`` (event deltas) as an aware datetime."""
    fmt = "%Y%m%dT%H%M%SZ" if "T" in snapshot else "%Y%m%d"
    return datetime.strptime(snapshot, fmt).replace(tzinfo=UTC)


@dataclass
class ColumnView:
    """A column seen through its distinct (or run-length) values, for element-wise rules.

    ``values[i]`` stands for ``weights[i]`` rows (1 when ``weights`` is None), the first of
    them at row ``starts[i]`` (unknown when ``starts`` is None: found by value on demand).
    Evaluating a rule on the view and weighting the result equals evaluating it on every row.
    """

    column: pa.ChunkedArray
    values: pa.Array | pa.ChunkedArray
    weights: np.ndarray | None = None
    starts: np.ndarray | None = None

    def rows(self, mask: pa.Array | pa.ChunkedArray) -> int:
        if self.weights is None:
            return count_true(mask)
        return int(self.weights[as_array(pc.fill_null(mask, False)).to_numpy(zero_copy_only=False)].sum())

    def first_row(self, mask: pa.Array | pa.ChunkedArray) -> int:
        i = first_true(mask)
        if i < 0 or self.weights is None:
            return i
        if self.starts is not None:
            return int(self.starts[i])
        value = self.values[i]
        return first_true(pc.is_null(self.column) if not value.is_valid else pc.equal(self.column, value))


def run_length_view(column: pa.ChunkedArray, *, min_gain: float = 2.0) -> ColumnView:
    """Collapse runs of equal adjacent values (sorted data repeats a page's title on each of
    its rows); falls back to the plain column when runs are too short to pay off."""
    n = len(column)
    if n < 2:
        return ColumnView(column, column)
    # chunked arrays compare and take without being combined (combining copies every string)
    if pa.types.is_integer(column.type) and column.null_count == 0:
        values = column.to_numpy()
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    else:
        same = pc.fill_null(pc.equal(column.slice(0, n - 1), column.slice(1)), False)
        starts = np.flatnonzero(np.r_[True, ~same.to_numpy()])
    if len(starts) * min_gain > n:
        return ColumnView(column, column)
    weights = np.diff(np.r_[starts, n])
    return ColumnView(column, column.take(pa.array(starts)), weights, starts)


@dataclass
class TableFacts:
    """Expensive per-table facts computed once and shared between checks and filters."""

    table: pa.Table
    _counts: dict[str, pa.Table] = field(default_factory=dict)
    _views: dict[str, ColumnView] = field(default_factory=dict)

    def counts(self, column: str) -> pa.Table:
        """Distinct values of ``column`` with their row counts (one hash group-by)."""
        if column not in self._counts:
            self._counts[column] = value_counts(self.table, column)
            self._views.pop(column, None)
        return self._counts[column]

    def view(self, column: str) -> ColumnView:
        """The cheapest view of ``column`` for element-wise rules: its distinct values when
        already counted, else its runs (strings and integers), else the column itself."""
        if column not in self._views:
            col = self.table.column(column)
            if column in self._counts:
                counted = self._counts[column]
                self._views[column] = ColumnView(col, counted.column("value"), counted.column("rows").to_numpy())
            elif pa.types.is_string(col.type) or pa.types.is_integer(col.type):
                self._views[column] = run_length_view(col)
            else:
                self._views[column] = ColumnView(col, col)
        return self._views[column]


# --------------------------------------------------------------------------- schema
def _first_uncastable(column: pa.Array, target: pa.DataType) -> int | None:
    """Bisect for the first row that will not cast (O(n) casts in total)."""

    def castable(part: pa.Array) -> bool:
        try:
            part.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return False
        return True

    if castable(column):
        return None
    lo, hi = 0, len(column)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if not castable(column.slice(lo, mid - lo)):
            hi = mid
        else:
            lo = mid
    return lo


def check_schema(dataset: str, table: pa.Table) -> tuple[CheckResult, pa.Table]:
    """Columns and types against the dataset's Arrow schema.

    Returns the result and the table cast to the expected types, restricted to the columns
    that could be cast (the other checks then run on those).
    """
    expected = dataset_schema(dataset)
    problems: list[str] = []
    example: dict[str, Any] | None = None
    columns: dict[str, pa.ChunkedArray] = {}
    missing = [f.name for f in expected if f.name not in table.column_names]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    for f in expected:
        if f.name not in table.column_names:
            continue
        col = table.column(f.name)
        if col.type == f.type:
            columns[f.name] = col
            continue
        if pa.types.is_dictionary(col.type) and col.type.value_type == f.type:
            columns[f.name] = col.cast(f.type)  # the same values, only encoded (e.g. read from Parquet)
            continue
        bad = _first_uncastable(as_array(col), f.type)
        if bad is None:
            columns[f.name] = col.cast(f.type)
            problems.append(f"column {f.name} is {col.type}, expected {f.type} (values cast cleanly)")
        else:
            problems.append(f"column {f.name} is {col.type}, expected {f.type}; row {bad} value {col[bad].as_py()!r} does not convert")
            if example is None:
                example = row_at(table, bad)
    extra = [c for c in table.column_names if c not in expected.names]
    if problems and example is None and table.num_rows:
        example = row_at(table, 0)
    metrics = {"rows": table.num_rows, "missing": missing, "extra": extra}
    if problems:
        outcome: Outcome = FAIL
        message = "; ".join(problems)
    elif extra:
        outcome, message = WARN, f"unexpected column(s) {', '.join(extra)} (ignored)"
    else:
        outcome, message = PASS, f"{len(expected)} columns with the expected types"
    cast = pa.table(columns) if columns else pa.table({})
    return CheckResult("schema", dataset, outcome, metrics, message, example), cast


def check_not_null(dataset: str, table: pa.Table) -> CheckResult:
    expected = dataset_schema(dataset)
    nulls = {
        f.name: table.column(f.name).null_count
        for f in expected
        if not f.nullable and f.name in table.column_names and table.column(f.name).null_count
    }
    if not nulls:
        return CheckResult("not_null", dataset, PASS, {"null_rows": 0}, "no nulls in non-nullable columns")
    first_col = next(iter(nulls))
    index = first_true(pc.is_null(table.column(first_col)))
    detail = ", ".join(f"{c} has {n} null(s)" for c, n in nulls.items())
    return CheckResult(
        "not_null", dataset, FAIL, {"null_rows": sum(nulls.values()), "by_column": nulls},
        f"non-nullable column(s) hold nulls: {detail}", row_at(table, index),
    )


# --------------------------------------------------------------------------- uniqueness
def _adjacent_order(table: pa.Table, keys: Sequence[str]) -> tuple[bool, pa.ChunkedArray]:
    """(rows sorted by ``keys``?, mask over rows 1..n-1: equal to the previous row)."""
    n = table.num_rows
    ok: Any = None
    same: Any = None
    for key in reversed(keys):
        col = table.column(key)
        a, b = col.slice(0, n - 1), col.slice(1)
        eq, lt = pc.equal(a, b), pc.less(a, b)
        ok = pc.or_(lt, eq) if ok is None else pc.or_(lt, pc.and_(eq, ok))
        same = eq if same is None else pc.and_(eq, same)
    return bool(pc.all(ok).as_py()), same


def check_unique(dataset: str, table: pa.Table) -> CheckResult | None:
    keys = [k for k in unique_key(dataset) if k in table.column_names]
    if not keys or len(keys) < len(unique_key(dataset)):
        return None  # a key column is missing: the schema check already failed
    key_text = ", ".join(keys)
    if table.num_rows < 2:
        return CheckResult("unique", dataset, PASS, {"duplicates": 0}, f"key ({key_text}) is unique")
    has_nulls = any(table.column(k).null_count for k in keys)
    is_sorted = False
    if not has_nulls:
        is_sorted, same = _adjacent_order(table, keys)
    if is_sorted:
        duplicates = count_true(same)
        example_index = first_true(same) + 1 if duplicates else -1
    else:
        groups = table.select(keys).group_by(keys).aggregate([([], "count_all")])
        repeated = groups.filter(pc.greater(groups.column("count_all"), 1))
        duplicates = int(pc.sum(repeated.column("count_all")).as_py() or 0) - repeated.num_rows
        example_index = -1
        if duplicates:
            first = repeated.slice(0, 1).to_pylist()[0]
            mask: Any = None
            for k in keys:
                col = table.column(k)
                hit = pc.is_null(col) if first[k] is None else pc.equal(col, first[k])
                mask = hit if mask is None else pc.and_(mask, hit)
            example_index = first_true(mask)
    metrics = {"duplicates": duplicates, "sorted": is_sorted, "key": keys}
    if not duplicates:
        return CheckResult("unique", dataset, PASS, metrics, f"key ({key_text}) is unique")
    return CheckResult(
        "unique", dataset, FAIL, metrics,
        f"{duplicates} row(s) repeat a key ({key_text}) already present", row_at(table, example_index),
    )


# --------------------------------------------------------------------------- values
def _bad_mask(check: pa_pd.Check, column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array | None:
    """Rows that break a pandera built-in check, computed with Arrow; None if untranslated."""
    s = check.statistics or {}

    def scalar(v: Any) -> pa.Scalar:
        return pa.scalar(v, type=column.type)

    name = check.name
    if name == "greater_than_or_equal_to":
        return pc.less(column, scalar(s["min_value"]))
    if name == "greater_than":
        return pc.less_equal(column, scalar(s["min_value"]))
    if name == "less_than_or_equal_to":
        return pc.greater(column, scalar(s["max_value"]))
    if name == "less_than":
        return pc.greater_equal(column, scalar(s["max_value"]))
    if name == "in_range":
        low = pc.less(column, scalar(s["min_value"])) if s.get("include_min", True) else pc.less_equal(column, scalar(s["min_value"]))
        high = pc.greater(column, scalar(s["max_value"])) if s.get("include_max", True) else pc.greater_equal(column, scalar(s["max_value"]))
        return pc.or_(low, high)
    if name == "equal_to":
        return pc.not_equal(column, scalar(s["value"]))
    if name == "not_equal_to":
        return pc.equal(column, scalar(s["value"]))
    if name == "isin":
        return pc.invert(pc.is_in(column, value_set=pa.array(list(s["allowed_values"]), type=column.type)))
    if name == "notin":
        return pc.is_in(column, value_set=pa.array(list(s["forbidden_values"]), type=column.type))
    if name == "str_matches":  # pandera uses re.match: anchored at the start only
        pattern = s["pattern"] if isinstance(s["pattern"], str) else s["pattern"].pattern
        return pc.invert(pc.match_substring_regex(column, pattern if pattern.startswith("^") else f"^(?:{pattern})"))
    if name == "str_contains":
        pattern = s["pattern"] if isinstance(s["pattern"], str) else s["pattern"].pattern
        return pc.invert(pc.match_substring_regex(column, pattern))
    if name == "str_startswith":
        return pc.invert(pc.starts_with(column, s["string"]))
    if name == "str_endswith":
        return pc.invert(pc.ends_with(column, s["string"]))
    if name == "str_length":
        length = pc.utf8_length(column)
        if s.get("exact_value") is not None:
            return pc.not_equal(length, s["exact_value"])
        bad: Any = None
        if s.get("min_value") is not None:
            bad = pc.less(length, s["min_value"])
        if s.get("max_value") is not None:
            high = pc.greater(length, s["max_value"])
            bad = high if bad is None else pc.or_(bad, high)
        return bad
    return None


def _describe_check(check: pa_pd.Check) -> str:
    stats = {k: v for k, v in (check.statistics or {}).items() if v is not None}
    args = ", ".join(f"{k}={v!r}" for k, v in stats.items())
    return f"{check.name}({args})"


def _pandera_on_sample(column: str, check: pa_pd.Check, table: pa.Table) -> tuple[int, int]:
    """(bad rows in the sample, first bad row) for a check with no Arrow translation."""
    frame = pandas_sample(table.select([column]), PANDERA_SAMPLE_ROWS)
    schema = pa_pd.DataFrameSchema({column: pa_pd.Column(checks=[check], nullable=True)})
    try:
        schema.validate(frame, lazy=True)
    except pa_pd.errors.SchemaErrors as exc:
        index = exc.failure_cases["index"].dropna()
        return len(index), int(index.iloc[0]) if len(index) else 0
    return 0, -1


def check_values(dataset: str, table: pa.Table, *, wiki: str | None = None, facts: TableFacts | None = None) -> CheckResult:
    """Value rules of :data:`wikivis.gates.rules.COLUMN_RULES`, plus ``wiki`` = partition.

    Built-in rules are element-wise, so they run on :meth:`TableFacts.view` (distinct or
    run-length values) and are weighted back to rows."""
    facts = facts if facts is not None else TableFacts(table)
    violations: dict[str, int] = {}
    messages: list[str] = []
    example_index = -1
    sampled = False
    n = table.num_rows
    rules = dict(COLUMN_RULES.get(dataset, {}))
    todo: list[tuple[str, str, Any]] = [
        (col, _describe_check(check), check) for col, checks in rules.items() if col in table.column_names for check in checks
    ]
    # crosswiki_leads' ``wiki`` names the *other* wiki whose lead it is, not the partition
    if wiki is not None and "wiki" in table.column_names and dataset != "crosswiki_leads":
        todo.append(("wiki", f"equal to the partition's wiki {wiki!r}", pa_pd.Check.equal_to(wiki)))
    for col, label, check in todo:
        view = facts.view(col)
        mask = _bad_mask(check, view.values)
        if mask is not None:
            bad = view.rows(mask)
            first = view.first_row(mask) if bad else -1
        else:
            bad, first = _pandera_on_sample(col, check, table)
            sampled = True
        if bad:
            violations[f"{col}: {label}"] = bad
            messages.append(f"{col}: {bad} of {n} row(s) break {label}")
            if example_index < 0:
                example_index = first
    metrics = {"rows": n, "rules": len(todo), "violations": violations, "sampled": sampled}
    if not violations:
        return CheckResult("values", dataset, PASS, metrics, f"{len(todo)} value rule(s) hold")
    return CheckResult("values", dataset, FAIL, metrics, "; ".join(messages), row_at(table, example_index))


def check_not_empty(dataset: str, table: pa.Table) -> CheckResult:
    n = table.num_rows
    if n:
        return CheckResult("not_empty", dataset, PASS, {"rows": n}, f"{n} row(s)")
    outcome = FAIL if dataset in REQUIRED_NON_EMPTY else WARN
    return CheckResult("not_empty", dataset, outcome, {"rows": 0}, "the dataset has no rows", {"rows": 0})


# --------------------------------------------------------------------------- references
def _sorted_membership(values: pa.Array | pa.ChunkedArray, target: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Membership of integer ``values`` in ``target`` by binary search (no hashing)."""
    array = as_array(values)
    pool = as_array(target).drop_null().to_numpy()
    if len(pool) > 1 and not (np.diff(pool) >= 0).all():
        pool = np.sort(pool)
    if len(pool) == 0:
        return np.zeros(len(array), dtype=bool)
    wanted = array.fill_null(pool[0]).to_numpy() if array.null_count else array.to_numpy()
    positions = np.minimum(np.searchsorted(pool, wanted), len(pool) - 1)
    found: np.ndarray = pool[positions] == wanted
    return found


def check_reference(
    dataset: str,
    facts: TableFacts,
    column: str,
    target: str,
    target_table: pa.Table | None,
    target_column: str,
    *,
    tolerated: float,
) -> CheckResult | None:
    """Values of ``column`` must exist in ``target.target_column``; the missing share is graded."""
    name = REFERENCE_CHECK.get(target, f"{target}_exists")
    table = facts.table
    if column not in table.column_names:
        return None
    if target_table is None or target_column not in target_table.column_names:
        return CheckResult(name, dataset, WARN, {"checked": False}, f"{target} is not available: {column} not checked")
    n = table.num_rows
    target_values = target_table.column(target_column)
    if pa.types.is_string(table.column(column).type):
        facts.counts(column)  # distinct values: far fewer lookups than rows (shared with the filters)
        view = facts.view(column)
        found = pc.is_in(view.values, value_set=target_values)
    else:
        view = facts.view(column)  # sorted ids collapse to one value per page
        found = pa.array(_sorted_membership(view.values, target_values))
    # a null is the not_null check's business, not a dangling reference
    missing_mask = pc.and_(pc.invert(found), pc.is_valid(view.values))
    missing_values = count_true(missing_mask)
    missing_rows = view.rows(missing_mask) if missing_values else 0
    example_index = view.first_row(missing_mask) if missing_values else -1
    fraction = missing_rows / n if n else 0.0
    outcome = graded(fraction, tolerated, any_bad=missing_rows > 0)
    metrics = {"missing_rows": missing_rows, "missing_values": missing_values, "rows": n,
               "missing_fraction": round(fraction, 6), "tolerated_fraction": tolerated}
    if outcome == PASS:
        return CheckResult(name, dataset, PASS, metrics, f"every {column} exists in {target}")
    return CheckResult(
        name, dataset, outcome, metrics,
        f"{missing_rows} of {n} row(s) ({fraction:.2%}) name a {column} missing from {target} "
        f"({missing_values} distinct value(s)); tolerated {tolerated:.2%}",
        row_at(table, example_index),
    )


# --------------------------------------------------------------------------- drift
def check_row_count_drift(
    dataset: str, rows: int, previous_rows: int | None, *, max_ratio: float,
    snapshot: str | None = None, previous: str | None = None,
) -> CheckResult:
    summary = {"snapshot": snapshot, "rows": rows, "previous_snapshot": previous, "previous_rows": previous_rows}
    if previous_rows is None:
        return CheckResult("row_count_drift", dataset, PASS, summary, "no previous snapshot to compare with")
    change = (rows - previous_rows) / max(previous_rows, 1)
    metrics = {**summary, "change": round(change, 6), "max_ratio": max_ratio}
    where = f"snapshot {previous}" if previous else "the previous snapshot"
    text = f"{rows} row(s) vs {previous_rows} in {where} ({change:+.1%}; bound ±{max_ratio:.0%})"
    if abs(change) > max_ratio:
        return CheckResult("row_count_drift", dataset, FAIL, metrics, text, summary)
    return CheckResult("row_count_drift", dataset, PASS, metrics, text)


def _share(column: pa.ChunkedArray) -> float | None:
    valid = len(column) - column.null_count
    return (int(pc.sum(column).as_py() or 0) / valid) if valid else None


def drift_statistic(stat: DriftStat, table: pa.Table) -> Any:
    """The value of one drift statistic on ``table`` (None when not computable)."""
    if stat.column not in table.column_names or table.num_rows == 0:
        return None
    column = table.column(stat.column)
    if stat.kind == "share":
        return _share(column)
    if stat.kind == "ratio":
        distinct = count_distinct(column)
        return table.num_rows / distinct if distinct else None
    if stat.kind == "median":
        return pc.approximate_median(column).as_py()
    counted = pc.value_counts(column)
    total = len(column)
    return {
        ("(null)" if v is None else str(v)): c / total
        for v, c in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True)
    }


def drift_distance(stat: DriftStat, current: Any, previous: Any) -> float:
    """Absolute difference (shares), relative change (ratios, medians) or total variation."""
    if stat.kind == "share":
        return float(abs(current - previous))
    if stat.kind == "categorical":
        keys = set(current) | set(previous)
        return float(0.5 * sum(abs(current.get(k, 0.0) - previous.get(k, 0.0)) for k in keys))
    return float(abs(current - previous) / max(abs(previous), 1e-12))


def drift_columns(dataset: str) -> list[str]:
    return sorted({s.column for s in DRIFT_PROFILES.get(dataset, [])})


def check_distribution_drift(
    dataset: str, table: pa.Table, previous_table: pa.Table | None, *, max_drift: float,
    previous: str | None = None,
) -> CheckResult | None:
    profile = DRIFT_PROFILES.get(dataset)
    if not profile:
        return None
    if previous_table is None:
        return CheckResult("distribution_drift", dataset, PASS, {}, "no previous snapshot to compare with")
    stats: dict[str, Any] = {}
    drifted: list[str] = []
    worst: dict[str, Any] | None = None
    for stat in profile:
        now, before = drift_statistic(stat, table), drift_statistic(stat, previous_table)
        if now is None or before is None:
            continue
        distance = drift_distance(stat, now, before)
        stats[stat.name] = {"distance": round(distance, 6), "current": _rounded(now), "previous": _rounded(before)}
        if distance > max_drift:
            drifted.append(f"{stat.name} moved by {distance:.3f} ({_show(before)} → {_show(now)})")
            if worst is None:
                worst = {"statistic": stat.name, "previous_snapshot": previous, "previous": _rounded(before), "current": _rounded(now)}
    metrics = {"statistics": stats, "max_drift": max_drift, "previous_snapshot": previous}
    if drifted:
        return CheckResult(
            "distribution_drift", dataset, FAIL, metrics,
            f"versus snapshot {previous}: {'; '.join(drifted)}; bound {max_drift}", worst,
        )
    return CheckResult("distribution_drift", dataset, PASS, metrics, f"{len(stats)} statistic(s) within {max_drift} of snapshot {previous}")


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        top = sorted(value.items(), key=lambda kv: -kv[1])[:10]
        return {k: round(v, 6) for k, v in top}
    return value


def _show(value: Any) -> str:
    if isinstance(value, dict):
        top = sorted(value.items(), key=lambda kv: -kv[1])[:3]
        return "{" + ", ".join(f"{k}: {v:.0%}" for k, v in top) + "}"
    return f"{value:.4g}"


# --------------------------------------------------------------------------- freshness


def check_freshness(dataset: str, snapshot: str | None, *, max_age_days: float, now: datetime | None = None) -> CheckResult:
    """A snapshot older than ``max_age_days`` (by its id) fails; 0 disables the check."""
    now = now or datetime.now(UTC)
    if snapshot is None or not SNAPSHOT_RE.fullmatch(snapshot):
        return CheckResult("freshness", dataset, WARN, {"snapshot": snapshot}, f"snapshot id {snapshot!r} carries no date")
    age_days = (now - parse_snapshot(snapshot)).total_seconds() / 86400
    summary = {"snapshot": snapshot, "age_days": round(age_days, 2), "max_age_days": max_age_days}
    if max_age_days <= 0:
        return CheckResult("freshness", dataset, PASS, summary, "freshness check disabled (gate_max_snapshot_age_days = 0)")
    if age_days > max_age_days:
        return CheckResult(
            "freshness", dataset, FAIL, summary,
            f"snapshot {snapshot} is {age_days:.1f} days old; limit {max_age_days:g} days", summary,
        )
    return CheckResult("freshness", dataset, PASS, summary, f"snapshot {snapshot} is {age_days:.1f} days old")


# --------------------------------------------------------------------------- all of them
def check_table(
    dataset: str,
    table: pa.Table,
    *,
    settings: Settings,
    wiki: str | None = None,
    snapshot: str | None = None,
    previous_table: pa.Table | None = None,
    previous: str | None = None,
    references: Mapping[str, pa.Table | None] | None = None,
    now: datetime | None = None,
    facts: TableFacts | None = None,
) -> tuple[list[CheckResult], TableFacts]:
    """Every table check on one dataset; returns the results and the shared facts.

    ``references`` maps a referenced dataset (``files``, ``pages``) to its table; absent
    keys skip that reference, a ``None`` value warns that it could not be checked.
    ``previous_table`` needs only the columns of :func:`drift_columns`.
    """
    schema_result, cast = check_schema(dataset, table)
    results = [schema_result, check_not_null(dataset, cast)]
    facts = facts or TableFacts(cast)
    facts.table = cast
    unique = check_unique(dataset, cast)
    if unique is not None:
        results.append(unique)
    reference_results = []
    for column, target, target_column in REFERENCES.get(dataset, []):
        if references is not None and target in references:
            ref = check_reference(dataset, facts, column, target, references[target], target_column,
                                  tolerated=settings.gate_max_dangling_fraction)
            if ref is not None:
                reference_results.append(ref)
    results.append(check_values(dataset, cast, wiki=wiki, facts=facts))
    results.append(check_not_empty(dataset, cast))
    results.extend(reference_results)
    previous_rows = previous_table.num_rows if previous_table is not None else None
    results.append(check_row_count_drift(dataset, cast.num_rows, previous_rows, max_ratio=settings.drift_max_ratio,
                                         snapshot=snapshot, previous=previous))
    drift = check_distribution_drift(dataset, cast, previous_table, max_drift=settings.gate_max_distribution_drift,
                                     previous=previous)
    if drift is not None:
        results.append(drift)
    if snapshot is not None:
        results.append(check_freshness(dataset, snapshot, max_age_days=settings.gate_max_snapshot_age_days, now=now))
    return results, facts
