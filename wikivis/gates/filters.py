"""Wikimedia's placeholder/icon filters (from the ImageMatching prototype, mirrys/ImageMatching).

Two filters decide that a file is not a real illustration:

* **over-use** — a file linked (``imagelinks``, from articles) by more articles than a
  threshold is an icon, a flag or a navigation image.  The threshold grows with the log of
  the wiki's size: 15 for a 50,000-article wiki, ×(1 + log10(size / 50,000)) above that, and
  scaled down linearly below it but never under 15/4 (``get_threshold`` in the prototype's
  ``algorithm_v3.py``).  A file is over-used when its count is *greater* than the threshold.
* **file-name blacklist** — case-insensitive substrings such as ``.svg``, ``flag``, ``map``,
  ``noimage``, ``replace_this_image`` (the prototype's ``substring_list``), plus ``icon`` and
  ``logo``.  The prototype also lists ``imageNA`` but compares it with lowercased names, so it
  never matched; it is left out here to keep the same behaviour.

Matching files are not a gate failure: they are set aside (rows for the ``quarantine``
dataset, with the reason) and excluded downstream.  :func:`wikimedia_filters` is the entry
point; the recommender reuses it.
"""

from __future__ import annotations

import math
import re

import pyarrow as pa
import pyarrow.compute as pc

from wikivis.datasets import schema as dataset_schema

ICON_BASE_ARTICLES = 50_000
ICON_BASE_THRESHOLD = 15.0
ICON_MIN_DIVISOR = 4.0

#: lower-case substrings of file names that mark placeholders, flags, maps and icons
BLACKLIST_SUBSTRINGS: tuple[str, ...] = (
    ".svg",
    "flag",
    "noantimage",
    "no_free_image",
    "image_manquante",
    "replace_this_image",
    "disambig",
    "regions",
    "map",
    "default",
    "defaut",
    "falta_imagem_",
    "noimage",
    "noenzyimage",
    "icon",
    "logo",
)
_BLACKLIST_RE = "|".join(re.escape(s) for s in BLACKLIST_SUBSTRINGS)

OVERUSED = "overused_image"
BLACKLISTED = "blacklisted_name"


def icon_threshold(n_articles: int) -> float:
    """Link count above which a file counts as an icon in a wiki of ``n_articles`` articles."""
    if n_articles >= ICON_BASE_ARTICLES:
        return (math.log10(n_articles / ICON_BASE_ARTICLES) + 1) * ICON_BASE_THRESHOLD
    return max(n_articles / ICON_BASE_ARTICLES * ICON_BASE_THRESHOLD, ICON_BASE_THRESHOLD / ICON_MIN_DIVISOR)


def blacklist_match(file_name: str) -> str | None:
    """The first blacklisted substring in ``file_name`` (case-insensitive), or None."""
    lowered = file_name.lower()
    return next((s for s in BLACKLIST_SUBSTRINGS if s in lowered), None)


def blacklisted_mask(file_names: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Boolean mask: file names containing a blacklisted substring (one RE2 pass)."""
    return pc.fill_null(pc.match_substring_regex(file_names, _BLACKLIST_RE, ignore_case=True), False)


def article_link_counts(article_images: pa.Table) -> pa.Table:
    """Distinct file names with the number of articles (namespace 0) linking them:
    columns ``file_name``, ``articles``.  Rows are unique per (page, file), so rows = pages."""
    table = article_images
    if "page_namespace" in table.column_names and table.num_rows:
        low, high = (s.as_py() for s in pc.min_max(table.column("page_namespace")).values())
        if not low == high == 0:  # the usual case (articles only) needs no filtering
            table = table.filter(pc.equal(table.column("page_namespace"), 0))
    counted = table.select(["file_name"]).group_by("file_name").aggregate([([], "count_all")])
    return pa.table({"file_name": counted.column("file_name"), "articles": counted.column("count_all")})


def wikimedia_filters(
    article_images: pa.Table,
    n_articles: int,
    *,
    link_counts: pa.Table | None = None,
    dataset: str = "article_images",
) -> tuple[pa.Array, pa.Table]:
    """Apply the over-use and file-name filters to the files of ``article_images``.

    :param article_images: at least ``file_name`` (and ``page_namespace`` when present: only
        namespace-0 links count towards over-use).
    :param n_articles: the wiki's article count (non-redirect namespace-0 pages).
    :param link_counts: precomputed :func:`article_link_counts` (saves a group-by).
    :param dataset: the ``dataset`` value written into the quarantine rows.
    :returns: ``(kept_file_names, quarantine)`` — the distinct file names that pass (a string
        array, in no particular order: sorting a million names costs more than the filters), and one ``quarantine`` row per (file, reason): ``check`` is
        ``overused_image`` or ``blacklisted_name``, ``row_key`` the file name.
    """
    counts = link_counts if link_counts is not None else article_link_counts(article_images)
    threshold = icon_threshold(n_articles)
    names = counts.column("file_name")
    overused = pc.greater(counts.column("articles"), pa.scalar(threshold))
    blacklisted = blacklisted_mask(names)

    over = counts.filter(overused)
    over_reasons = [
        f"linked from {n} articles, above the icon threshold {threshold:.2f} for a wiki of {n_articles} articles"
        for n in over.column("articles").to_pylist()
    ]
    black_names = pc.filter(names, blacklisted).to_pylist()
    black_reasons = [f"file name contains {blacklist_match(name)!r} (Wikimedia placeholder/icon name filter)" for name in black_names]

    keys = over.column("file_name").to_pylist() + black_names
    quarantine = pa.table(
        {
            "dataset": pa.array([dataset] * len(keys), pa.string()),
            "check": pa.array([OVERUSED] * over.num_rows + [BLACKLISTED] * len(black_names), pa.string()),
            "row_key": pa.array(keys, pa.string()),
            "reason": pa.array(over_reasons + black_reasons, pa.string()),
        },
        schema=dataset_schema("quarantine"),
    )
    kept = pc.filter(names, pc.invert(pc.or_(overused, blacklisted)))
    return (kept.combine_chunks() if isinstance(kept, pa.ChunkedArray) else kept), quarantine


def quarantined_file_names(quarantine: pa.Table, checks: tuple[str, ...] = (OVERUSED, BLACKLISTED)) -> set[str]:
    """File names set aside by the Wikimedia filters (for excluding them downstream)."""
    if quarantine.num_rows == 0:
        return set()
    mask = pc.is_in(quarantine.column("check"), value_set=pa.array(list(checks), pa.string()))
    return set(pc.filter(quarantine.column("row_key"), mask).to_pylist())
