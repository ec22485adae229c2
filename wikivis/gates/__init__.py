"""Validation gates between pipeline stages: declarative checks, outcomes, quarantine, reports.

A gate runs checks on a stage's output; each check yields a :class:`CheckResult` with outcome
``pass``, ``warn`` or ``fail``.  :func:`run_gate` records them in the catalog, writes rows set
aside to the lake's ``quarantine`` dataset, and raises :class:`~wikivis.errors.GateFailed` when
any check fails (``Settings.gate_warn_only`` turns named checks' failures into warnings).

Public entry points (see :mod:`wikivis.gates.stages`)::

    gate_tables(settings, lake, wiki, snapshot, *, previous=None, catalog=None, run_id=None)
    gate_media(settings, lake, wiki, snapshot, *, previous=None, catalog=None, run_id=None)
    gate_wikidata(settings, lake, wiki, snapshot, *, previous=None, catalog=None, run_id=None)
    gate_embeddings(settings, vectors, *, ids=None, expected_dim=None, normalized=None, model_id=None, ...)
    gate_index(settings, search, vectors, *, ids=None, index_size=None, k=10, metric="cosine", ...)
    wikimedia_filters(article_images, n_articles) -> (kept_file_names, quarantine_rows)

Modules: :mod:`.rules` (pandera declarations), :mod:`.tables` (vectorised table checks),
:mod:`.filters` (Wikimedia icon/placeholder filters), :mod:`.images`, :mod:`.vectors`,
:mod:`.stages` (the gates), :mod:`.report` (HTML/Markdown quality report).

The names below are imported on first use, so ``import wikivis.gates`` (and the dataset
lists the CLI needs for its help) stays free of pandas, pandera and pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: the datasets each lake gate checks, in order
TABLE_DATASETS = ("pages", "article_images", "article_categories", "files", "article_items")
MEDIA_DATASETS = ("file_metadata", "media")
WIKIDATA_DATASETS = ("item_images", "crosswiki_leads")

_EXPORTS = {
    "BLACKLIST_SUBSTRINGS": "filters",
    "blacklist_match": "filters",
    "icon_threshold": "filters",
    "quarantined_file_names": "filters",
    "wikimedia_filters": "filters",
    "FAIL": "results",
    "PASS": "results",
    "WARN": "results",
    "CheckResult": "results",
    "GateReport": "results",
    "Outcome": "results",
    "gate_embeddings": "stages",
    "gate_index": "stages",
    "gate_media": "stages",
    "gate_tables": "stages",
    "gate_wikidata": "stages",
    "run_gate": "stages",
}

__all__ = [
    "BLACKLIST_SUBSTRINGS",
    "FAIL",
    "MEDIA_DATASETS",
    "PASS",
    "TABLE_DATASETS",
    "WARN",
    "WIKIDATA_DATASETS",
    "CheckResult",
    "GateReport",
    "Outcome",
    "blacklist_match",
    "gate_embeddings",
    "gate_index",
    "gate_media",
    "gate_tables",
    "gate_wikidata",
    "icon_threshold",
    "quarantined_file_names",
    "run_gate",
    "wikimedia_filters",
]

if TYPE_CHECKING:
    from wikivis.gates.filters import (
        BLACKLIST_SUBSTRINGS,
        blacklist_match,
        icon_threshold,
        quarantined_file_names,
        wikimedia_filters,
    )
    from wikivis.gates.results import FAIL, PASS, WARN, CheckResult, GateReport, Outcome
    from wikivis.gates.stages import gate_embeddings, gate_index, gate_media, gate_tables, gate_wikidata, run_gate


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wikivis.gates' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"wikivis.gates.{module}"), name)
    globals()[name] = value
    return value
