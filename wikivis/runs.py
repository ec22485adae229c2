"""Run statuses and health, read from the catalog's parent runs (no Airflow, no heavy import).

A parent run is what one DAG run (or ``wikivis run``) does for one wiki, or across wikis;
its id is keyed on the data interval (:func:`wikivis.stages.run.run_id_for`):
``<kind>__<wiki>__YYYYMMDDTHHMMSSZ`` or ``<kind>__YYYYMMDDTHHMMSSZ``.

Its status follows the orchestrator, not the last try of a stage:

* ``running`` from its first stage until the DAG run (or ``run_all``) ends — a stage try
  that fails while Airflow will retry it leaves the run ``running`` (the stage's own child
  run records the failed try);
* ``failed`` when the DAG run fails (Airflow: the ``write_reports`` teardown, see
  ``plugins/wikivis_airflow/stages.py``), or outside Airflow when a stage raises;
* ``success`` when the DAG run ends well, published or not (a backfill publishes only its
  newest snapshot per wiki; its older days still finish).

Health describes the **newest interval** of each (kind, wiki), not the last run to finish:
a successful backfill of an old date must not hide a failed nightly.  Within one interval the
most recently started run wins (a rerun of the interval supersedes the failed try).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from wikivis.stages.run import is_stage_kind
from wikivis.vocab import INSTANT_RE

#: the interval stamp that ends a parent run id
_INTERVAL_RE = re.compile(rf"__({INSTANT_RE.pattern})\Z", re.ASCII)


def interval_of(run: Mapping[str, Any]) -> str:
    """The data interval a run is keyed on (``YYYYMMDDTHHMMSSZ``), else its start time."""
    match = _INTERVAL_RE.search(str(run.get("id") or ""))
    if match:
        return match.group(1)
    started = str(run.get("started_at") or "")
    digits = re.sub(r"\D", "", started)[:14]
    return f"{digits[:8]}T{digits[8:14]}Z" if len(digits) >= 14 else started


def parent_runs(runs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in runs if not is_stage_kind(r.get("kind"))]


def newest_intervals(runs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (kind, wiki): the run of the newest interval (the latest started within it)."""
    best: dict[tuple[str, str], tuple[tuple[str, str], Mapping[str, Any]]] = {}
    for run in parent_runs(runs):
        key = (str(run.get("kind") or "?"), str(run.get("wiki") or ""))
        rank = (interval_of(run), str(run.get("started_at") or ""))
        if key not in best or rank > best[key][0]:
            best[key] = (rank, run)
    return [
        {"kind": kind, "wiki": wiki or None, "interval": rank[0], "run_id": run.get("id"),
         "status": run.get("status"), "message": run.get("message")}
        for (kind, wiki), (rank, run) in sorted(best.items())
    ]


def health(runs: Iterable[Mapping[str, Any]]) -> str:
    """``degraded`` when the newest interval of some (kind, wiki) failed, else ``ok``."""
    return "degraded" if any(n["status"] == "failed" for n in newest_intervals(runs)) else "ok"
