"""Validation gates between pipeline stages: declarative checks, outcomes, quarantine, reports.

A gate runs checks on a stage's output; each check yields a :class:`CheckResult` with outcome
``pass``, ``warn`` or ``fail``.  :func:`run_gate` records them in the catalog, writes rows set
aside to the lake's ``quarantine`` dataset, and raises :class:`~wikivis.errors.GateFailed` when
any check fails (``Settings.gate_warn_only`` turns named checks' failures into warnings).

Public entry points (see :mod:`wikivis.gates.stages`)::

    gate_tables(settings, lake, wiki, snapshot, *, previous=None, catalog=None, run_id=None)
    gate_media(settings, lake, wiki, snapshot, *, previous=None, catalog=None, run_id=None)
    gate_embeddings(settings, vectors, *, ids=None, expected_dim=None, normalized=None, model_id=None, ...)
    gate_index(settings, search, vectors, *, ids=None, index_size=None, k=10, metric="ip", ...)
    wikimedia_filters(article_images, n_articles) -> (kept_file_names, quarantine_rows)

Modules: :mod:`.rules` (pandera declarations), :mod:`.tables` (vectorised table checks),
:mod:`.filters` (Wikimedia icon/placeholder filters), :mod:`.images`, :mod:`.vectors`,
:mod:`.report` (HTML/Markdown quality report).
"""

from wikivis.gates.filters import (
    BLACKLIST_SUBSTRINGS,
    blacklist_match,
    icon_threshold,
    quarantined_file_names,
    wikimedia_filters,
)
from wikivis.gates.results import FAIL, PASS, WARN, CheckResult, GateReport, Outcome
from wikivis.gates.stages import gate_embeddings, gate_index, gate_media, gate_tables, run_gate

__all__ = [
    "BLACKLIST_SUBSTRINGS",
    "FAIL",
    "PASS",
    "WARN",
    "CheckResult",
    "GateReport",
    "Outcome",
    "blacklist_match",
    "gate_embeddings",
    "gate_index",
    "gate_media",
    "gate_tables",
    "icon_threshold",
    "quarantined_file_names",
    "run_gate",
    "wikimedia_filters",
]
