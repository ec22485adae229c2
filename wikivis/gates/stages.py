"""The gates the pipeline calls between stages, and :func:`run_gate` that settles outcomes.

Entry points (each returns a :class:`~wikivis.gates.results.GateReport` and raises
:class:`~wikivis.errors.GateFailed` when a check fails, unless ``raise_on_fail=False``):

* :func:`gate_tables` — after ingest: pages, article_images, article_categories and files of
  one wiki snapshot; sets aside over-used / blacklisted files (Wikimedia filters).
* :func:`gate_media` — after the Commons stage: file_metadata and media tables, and the
  thumbnails on disk.
* :func:`gate_embeddings` — after embedding: a vector matrix.
* :func:`gate_index` — after the index build: a ``search(queries, k)`` callable vs exact search.

Where data lives: the article wiki's datasets are read at ``(wiki, snapshot)``.  ``files``
and ``file_metadata`` describe Commons files, so they are looked up under the wiki first and
then under ``Settings.commons_wiki``, at the same snapshot or else the newest one before it
(Commons is dumped on its own schedule); ``pages`` for references and the wiki size likewise
come from the newest snapshot at or before (an event snapshot may carry only article_images).
The previous snapshot for drift is ``previous`` when given, else the newest snapshot of that
dataset older than the one checked.

Quarantine rows are written to the lake's ``quarantine`` dataset at ``(wiki, snapshot)``;
each gate replaces only the rows of the datasets it checked, so reruns are idempotent and
gates do not erase each other's rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wikivis.config import Settings
from wikivis.datasets import schema as dataset_schema
from wikivis.errors import GateFailed, NotFoundError
from wikivis.gates import MEDIA_DATASETS, TABLE_DATASETS, WIKIDATA_DATASETS
from wikivis.gates.filters import BLACKLISTED, OVERUSED, article_link_counts, icon_threshold, wikimedia_filters
from wikivis.gates.images import check_media
from wikivis.gates.results import PASS, CheckResult, GateReport, apply_warn_only
from wikivis.gates.tables import TableFacts, check_table, drift_columns
from wikivis.gates.vectors import Metric, SearchFn, check_embeddings, check_index
from wikivis.lake import Lake

log = logging.getLogger(__name__)

#: datasets describing Commons files (looked up under the commons wiki too)
COMMONS_DATASETS = frozenset({"files", "file_metadata"})


# --------------------------------------------------------------------------- settling
def run_gate(
    stage: str,
    results: Iterable[CheckResult],
    *,
    settings: Settings,
    lake: Lake | None = None,
    wiki: str | None = None,
    snapshot: str | None = None,
    quarantine: pa.Table | None = None,
    catalog: Any = None,
    run_id: str | None = None,
    raise_on_fail: bool = True,
) -> GateReport:
    """Settle a gate: apply ``gate_warn_only``, record, write quarantine, raise on failure.

    * Each result goes to ``catalog.record_gate`` (when a catalog is given; without a
      ``run_id`` a run of kind ``gate-<stage>`` is started and finished here).  The example
      row, wiki and snapshot travel in the metrics.
    * ``quarantine`` rows go to the lake (when ``lake``, ``wiki`` and ``snapshot`` are given),
      replacing earlier rows of the same datasets.
    * Any remaining ``fail`` raises :class:`GateFailed` naming dataset, check and example row.
    """
    settled = apply_warn_only(list(results), settings.gate_warn_only)
    report = GateReport(stage, settled, wiki=wiki, snapshot=snapshot, quarantine=quarantine)
    own_run = catalog is not None and run_id is None
    if own_run:
        run_id = catalog.start_run(f"gate-{stage}", wiki, {"snapshot": snapshot})
    report.run_id = run_id
    if lake is not None and wiki is not None and snapshot is not None and quarantine is not None:
        owned = {r.dataset for r in settled}
        write_quarantine(lake, wiki, snapshot, quarantine, replace_datasets=owned, run_id=run_id)
    if catalog is not None:
        for r in settled:
            metrics = {**r.to_dict()["metrics"], "example_row": r.to_dict()["example_row"], "wiki": wiki, "snapshot": snapshot}
            catalog.record_gate(run_id, stage, r.dataset, r.name, r.outcome, metrics, r.describe())
        if own_run:
            catalog.finish_run(run_id, "success" if report.ok else "failed",
                               None if report.ok else report.failure_message())
    log.info("%s", report.summary())
    if raise_on_fail and not report.ok:
        first = report.failures[0]
        raise GateFailed(report.failure_message(), gate=first.name, dataset=first.dataset)
    return report


def write_quarantine(
    lake: Lake, wiki: str, snapshot: str, rows: pa.Table, *, replace_datasets: Iterable[str], run_id: str | None = None,
) -> None:
    """Merge ``rows`` into the ``quarantine`` partition, replacing rows of ``replace_datasets``."""
    replaced = set(replace_datasets) | set(rows.column("dataset").to_pylist())
    kept: list[dict[str, Any]] = []
    if lake.exists("quarantine", wiki, snapshot):
        existing = lake.read("quarantine", wiki, snapshot)
        mask = pc.invert(pc.is_in(existing.column("dataset"), value_set=pa.array(sorted(replaced), pa.string())))
        kept = existing.filter(mask).to_pylist()
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in kept + rows.to_pylist():
        merged.setdefault((row["dataset"], row["check"], row["row_key"]), row)
    table = pa.Table.from_pylist(list(merged.values()), schema=dataset_schema("quarantine"))
    lake.write("quarantine", wiki, snapshot, table, run_id=run_id)


# --------------------------------------------------------------------------- lake helpers
def _at_or_before(lake: Lake, dataset: str, wiki: str, snapshot: str) -> str | None:
    older = [s for s in lake.snapshots(dataset, wiki) if s <= snapshot]
    return older[-1] if older else None


def locate(lake: Lake, settings: Settings, dataset: str, wiki: str, snapshot: str) -> tuple[str, str] | None:
    """(wiki, snapshot) holding ``dataset`` for a check of ``wiki`` at ``snapshot``, or None."""
    if lake.exists(dataset, wiki, snapshot):
        return wiki, snapshot
    if dataset in COMMONS_DATASETS:
        for where in (settings.commons_wiki, wiki):
            found = _at_or_before(lake, dataset, where, snapshot)
            if found is not None:
                return where, found
    return None


def previous_snapshot(lake: Lake, dataset: str, wiki: str, snapshot: str, previous: str | None) -> str | None:
    if previous is not None and previous != snapshot and lake.exists(dataset, wiki, previous):
        return previous
    older = [s for s in lake.snapshots(dataset, wiki) if s < snapshot]
    return older[-1] if older else None


def _read_files(lake: Lake, settings: Settings, wiki: str, snapshot: str) -> pa.Table | None:
    """File names of every ``files`` table visible to ``wiki`` (Commons and local uploads)."""
    parts = []
    for where in dict.fromkeys((settings.commons_wiki, wiki)):
        found = _at_or_before(lake, "files", where, snapshot)
        if found is not None:
            parts.append(lake.read("files", where, found, columns=["file_name"]))
    return pa.concat_tables(parts) if parts else None


def article_count(pages: pa.Table | None, article_images: pa.Table | None) -> tuple[int, str]:
    """Articles of the wiki (non-redirect pages) — the wiki size of the over-use threshold."""
    if pages is not None and "is_redirect" in pages.column_names:
        redirects = int(pc.sum(pages.column("is_redirect")).as_py() or 0)
        return pages.num_rows - redirects, "pages"
    if article_images is not None and "page_id" in article_images.column_names:
        return int(pc.count_distinct(article_images.column("page_id")).as_py()), "article_images (lower bound)"
    return 0, "none"


def _check_lake_dataset(
    lake: Lake, settings: Settings, dataset: str, where: tuple[str, str], *, previous: str | None,
    references: dict[str, pa.Table | None] | None, now: datetime | None, run_id: str | None = None,
) -> tuple[pa.Table, list[CheckResult], TableFacts]:
    """Check the run's own write of ``dataset`` (its branch) against what readers see now.

    Drift is measured against the *published* state when there is one, even when it carries
    the same label: re-running a published date with shrunken data must not compare the new
    rows with themselves."""
    wiki, snapshot = where
    table = lake.read(dataset, wiki, snapshot, run_id=run_id)
    columns = drift_columns(dataset) or None
    prev: str | None = None
    previous_table = None
    published = lake.current(dataset, wiki) if previous is None else None
    if published is not None:
        previous_table = lake.read(dataset, wiki, columns=columns)
        prev = f"{published} (published)"
    else:
        prev = previous_snapshot(lake, dataset, wiki, snapshot, previous)
        if prev is not None:
            previous_table = lake.read(dataset, wiki, prev, columns=columns)
    results, facts = check_table(
        dataset, table, settings=settings, wiki=wiki, snapshot=snapshot, previous_table=previous_table,
        previous=prev, references=references, now=now,
    )
    return table, results, facts


def _select(requested: Sequence[str] | None, default: Sequence[str]) -> tuple[list[str], bool]:
    if requested is None:
        return list(default), False
    unknown = [d for d in requested if d not in default]
    if unknown:
        raise NotFoundError(f"no such dataset for this gate: {', '.join(unknown)} (choose from {', '.join(default)})")
    return list(requested), True


def _locate(
    lake: Lake, settings: Settings, stage: str, wiki: str, snapshot: str,
    datasets: Sequence[str] | None, default: Sequence[str], always_required: str,
) -> tuple[list[str], dict[str, Any]]:
    """The datasets a gate checks and where each one is (None: absent).

    ``always_required`` must exist unless ``datasets`` names the set, in which case every
    named one must.  ``media`` is content-addressed and shared, so it is also looked for
    under the Commons wiki.
    """
    wanted, explicit = _select(datasets, default)
    located = {d: locate(lake, settings, d, wiki, snapshot) for d in wanted}
    if "media" in wanted and located["media"] is None:
        located["media"] = locate(lake, settings, "media", settings.commons_wiki, snapshot)
    required = set(wanted) if explicit else {always_required} & set(wanted)
    missing = [d for d in wanted if d in required and located[d] is None]
    if missing:
        raise NotFoundError(f"gate {stage}: no {', '.join(missing)} for {wiki} at snapshot {snapshot} in {lake.root}")
    return wanted, located


def _check_located(
    lake: Lake, settings: Settings, wanted: Sequence[str], located: dict[str, tuple[str, str] | None], *,
    previous: str | None, references: dict[str, pa.Table | None] | None, now: datetime | None, run_id: str | None,
) -> tuple[dict[str, pa.Table], list[CheckResult], dict[str, TableFacts]]:
    """Check every wanted dataset that was found: its table, the results and the facts, by dataset."""
    tables: dict[str, pa.Table] = {}
    results: list[CheckResult] = []
    facts: dict[str, TableFacts] = {}
    for dataset in wanted:
        where = located[dataset]
        if where is None:
            continue
        tables[dataset], found, facts[dataset] = _check_lake_dataset(
            lake, settings, dataset, where, previous=previous, references=references, now=now, run_id=run_id,
        )
        results.extend(found)
    return tables, results, facts


# --------------------------------------------------------------------------- the gates
def gate_tables(
    settings: Settings,
    lake: Lake,
    wiki: str,
    snapshot: str,
    *,
    previous: str | None = None,
    catalog: Any = None,
    run_id: str | None = None,
    datasets: Sequence[str] | None = None,
    now: datetime | None = None,
    raise_on_fail: bool = True,
) -> GateReport:
    """Gate the ingested tables of ``wiki`` at ``snapshot`` (stage ``tables``).

    Checks each of pages, article_images, article_categories and files that exists
    (article_images must; with ``datasets`` given, each named one must), then sets aside
    over-used and blacklisted files into ``quarantine``.
    """
    wanted, located = _locate(lake, settings, "tables", wiki, snapshot, datasets, TABLE_DATASETS, "article_images")
    references: dict[str, pa.Table | None] = {"files": _read_files(lake, settings, wiki, snapshot)}
    pages_at = _at_or_before(lake, "pages", wiki, snapshot)  # an event snapshot may carry no pages
    references["pages"] = lake.read("pages", wiki, pages_at, columns=["page_id", "is_redirect"]) if pages_at else None
    tables, results, facts = _check_located(lake, settings, wanted, located, previous=previous,
                                            references=references, now=now, run_id=run_id)

    quarantine = dataset_schema("quarantine").empty_table()
    if "article_images" in tables:
        images = tables["article_images"]
        n_articles, source = article_count(references.get("pages"), images)
        _, quarantine = wikimedia_filters(images, n_articles, link_counts=shared_link_counts(facts["article_images"], images))
        results.append(_filters_result(quarantine, n_articles, source))
    return run_gate("tables", results, settings=settings, lake=lake, wiki=wiki, snapshot=snapshot,
                    quarantine=quarantine, catalog=catalog, run_id=run_id, raise_on_fail=raise_on_fail)


def gate_wikidata(
    settings: Settings,
    lake: Lake,
    wiki: str,
    snapshot: str,
    *,
    previous: str | None = None,
    catalog: Any = None,
    run_id: str | None = None,
    now: datetime | None = None,
    raise_on_fail: bool = True,
) -> GateReport:
    """Gate ``item_images`` and ``crosswiki_leads`` of ``wiki`` at ``snapshot`` (stage
    ``wikidata``): schema, key, values (Q-ids, P18/P373, file titles), and every item must be
    one of the snapshot's ``article_items``."""
    wanted, located = _locate(lake, settings, "wikidata", wiki, snapshot, None, WIKIDATA_DATASETS, "item_images")
    items_at = _at_or_before(lake, "article_items", wiki, snapshot)
    references: dict[str, pa.Table | None] = {
        "article_items": lake.read("article_items", wiki, items_at, columns=["item"]) if items_at else None
    }
    _, results, _ = _check_located(lake, settings, wanted, located, previous=previous, references=references,
                                   now=now, run_id=run_id)
    return run_gate("wikidata", results, settings=settings, lake=lake, wiki=wiki, snapshot=snapshot,
                    catalog=catalog, run_id=run_id, raise_on_fail=raise_on_fail)


def shared_link_counts(facts: TableFacts, images: pa.Table) -> pa.Table:
    """Article link counts per file, reusing the file_name group-by of the table checks when
    every row is an article link (the usual case)."""
    if "file_name" not in facts.table.column_names:
        return article_link_counts(images)
    ns = facts.table.column("page_namespace") if "page_namespace" in facts.table.column_names else None
    if ns is not None and facts.table.num_rows:
        low, high = (s.as_py() for s in pc.min_max(ns).values())
        if not low == high == 0:
            return article_link_counts(images)
    counts = facts.counts("file_name")
    return pa.table({"file_name": counts.column("value"), "articles": counts.column("rows")})


def _filters_result(quarantine: pa.Table, n_articles: int, source: str) -> CheckResult:
    checks = quarantine.column("check").to_pylist()
    over, black = checks.count(OVERUSED), checks.count(BLACKLISTED)
    threshold = icon_threshold(n_articles)
    return CheckResult(
        "wikimedia_filters", "article_images", PASS,
        {"overused": over, "blacklisted": black, "threshold": round(threshold, 3), "n_articles": n_articles,
         "n_articles_from": source},
        f"set aside {over} over-used file(s) (linked from more than {threshold:.2f} articles; wiki of {n_articles} "
        f"articles) and {black} file(s) with a placeholder/icon name",
    )


def gate_media(
    settings: Settings,
    lake: Lake,
    wiki: str,
    snapshot: str,
    *,
    previous: str | None = None,
    catalog: Any = None,
    run_id: str | None = None,
    datasets: Sequence[str] | None = None,
    workers: int | None = None,
    now: datetime | None = None,
    raise_on_fail: bool = True,
) -> GateReport:
    """Gate the Commons metadata and thumbnails of ``wiki`` at ``snapshot`` (stage ``media``).

    Table checks on file_metadata (when present) and media (required), then the image checks
    on every fetched thumbnail; bad thumbnails and Wikimedia-filtered files go to quarantine.
    """
    wanted, located = _locate(lake, settings, "media", wiki, snapshot, datasets, MEDIA_DATASETS, "media")
    results: list[CheckResult] = []
    quarantine = dataset_schema("quarantine").empty_table()
    for dataset in wanted:
        where = located[dataset]
        if where is None:
            continue
        table, found, _ = _check_lake_dataset(lake, settings, dataset, where, previous=previous, references=None, now=now)
        results.extend(found)
        if dataset == "media":
            images, n_articles = None, None
            links_at = _at_or_before(lake, "article_images", wiki, snapshot)
            if links_at is not None:
                images = lake.read("article_images", wiki, links_at, columns=["page_id", "page_namespace", "file_name"])
                pages_at = _at_or_before(lake, "pages", wiki, snapshot)
                pages = lake.read("pages", wiki, pages_at, columns=["is_redirect"]) if pages_at else None
                n_articles, _ = article_count(pages, images)
            image_results, quarantine = check_media(table, settings=settings, article_images=images,
                                                    n_articles=n_articles, workers=workers)
            results.extend(image_results)
    return run_gate("media", results, settings=settings, lake=lake, wiki=wiki, snapshot=snapshot,
                    quarantine=quarantine, catalog=catalog, run_id=run_id, raise_on_fail=raise_on_fail)


def gate_embeddings(
    settings: Settings,
    vectors: np.ndarray,
    *,
    ids: Sequence[Any] | None = None,
    expected_dim: int | None = None,
    normalized: bool | None = None,
    model_id: str | None = None,
    catalog: Any = None,
    run_id: str | None = None,
    raise_on_fail: bool = True,
) -> GateReport:
    """Gate an embedding matrix (stage ``embeddings``; dataset ``embeddings/<model_id>``).

    :param vectors: ``(n, dim)`` array (a memory map is fine: it is read in blocks).
    :param ids: the row ids (sha1s), for messages and the uniqueness check.
    :param expected_dim: the model's output dimension.
    :param normalized: True when the vectors must be unit length.
    """
    dataset = f"embeddings/{model_id}" if model_id else "embeddings"
    results = check_embeddings(
        vectors, ids=ids, expected_dim=expected_dim, normalized=normalized,
        sample_size=settings.gate_sample_size, max_duplicate_fraction=settings.gate_max_duplicate_fraction,
        dataset=dataset,
    )
    return run_gate("embeddings", results, settings=settings, catalog=catalog, run_id=run_id, raise_on_fail=raise_on_fail)


def gate_index(
    settings: Settings,
    search: SearchFn,
    vectors: np.ndarray,
    *,
    ids: Sequence[Any] | None = None,
    index_size: int | None = None,
    k: int = 10,
    metric: Metric = "cosine",
    model_id: str | None = None,
    catalog: Any = None,
    run_id: str | None = None,
    raise_on_fail: bool = True,
) -> GateReport:
    """Gate a nearest-neighbour index (stage ``index``): recall@k vs exact search ≥
    ``Settings.recall_threshold`` on ``Settings.gate_sample_size`` queries, and size.

    :param search: ``search(queries, k)`` → labels ``(len(queries), k)`` or faiss's
        ``(distances, labels)``; labels are positions in ``vectors`` or values of ``ids``.
    :param vectors: the exact vectors the index was built from.
    :param index_size: the number of vectors the index holds (``index.ntotal``).
    :param metric: ``cosine`` (the default: stored embeddings are not normalised, the index
        normalises), ``ip`` or ``l2``.
    """
    dataset = f"index/{model_id}" if model_id else "index"
    results = check_index(
        search, vectors, ids=ids, index_size=index_size, k=k, metric=metric,
        sample_size=min(settings.gate_sample_size, 1000), recall_threshold=settings.recall_threshold, dataset=dataset,
    )
    return run_gate("index", results, settings=settings, catalog=catalog, run_id=run_id, raise_on_fail=raise_on_fail)
