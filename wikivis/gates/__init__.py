"""Validation gates between pipeline stages: declarative checks, outcomes, quarantine, reports.

A gate runs checks on a stage's output; each check yields a :class:`CheckResult` with outcome
``pass``, ``warn`` or ``fail``.  :func:`run_gate` records them in the catalog, writes rows set
aside to the lake's ``quarantine`` dataset, and raises :class:`~wikivis.errors.GateFailed` when
any check fails (``Settings.gate_warn_only`` turns named checks' failures into warnings).

Entry points (in :mod:`wikivis.gates.stages` and :mod:`wikivis.gates.filters`)::

    gate_tables(settings, lake, wiki, snapshot, *, previous=None, catalog=None, run_id=None)
    gate_media(settings, lake, wiki, snapshot, *, previous=None, catalog=None, run_id=None)
    gate_wikidata(settings, lake, wiki, snapshot, *, previous=None, catalog=None, run_id=None)
    gate_embeddings(settings, vectors, *, ids=None, expected_dim=None, normalized=None, model_id=None, ...)
    gate_index(settings, search, vectors, *, ids=None, index_size=None, k=10, metric="cosine", ...)
    wikimedia_filters(article_images, n_articles) -> (kept_file_names, quarantine_rows)

Modules: :mod:`.rules` (pandera declarations), :mod:`.tables` (vectorised table checks),
:mod:`.filters` (Wikimedia icon/placeholder filters), :mod:`.images`, :mod:`.vectors`,
:mod:`.stages` (the gates), :mod:`.report` (HTML/Markdown quality report).

This package module holds only the dataset lists (the CLI's help needs them without pandas,
pandera or pyarrow); import the gates from their modules.
"""

from __future__ import annotations

#: the datasets each lake gate checks, in order
TABLE_DATASETS = ("pages", "article_images", "article_categories", "files", "article_items")
MEDIA_DATASETS = ("file_metadata", "media")
WIKIDATA_DATASETS = ("item_images", "crosswiki_leads")

__all__ = ["MEDIA_DATASETS", "TABLE_DATASETS", "WIKIDATA_DATASETS"]
