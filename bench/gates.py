"""Throughput of the ``article_images`` table gate (rows/s), next to two baselines.

What is timed — the same work :func:`wikivis.gates.gate_tables` does for ``article_images``
minus the Parquet read: schema, not-null, uniqueness, value rules, not-empty, file and page
references, row-count and distribution drift against a previous snapshot, freshness, and the
Wikimedia filters (over-use threshold + name blacklist) with their quarantine rows.

Baselines, on the same synthetic frame in the same run:

* ``naive_pyarrow`` — the same table checks written the obvious way with pyarrow: a hash
  group-by over both key columns for uniqueness, ``is_in`` over every row for references,
  ``count_distinct`` for pages, regexes over every row, and a separate group-by for the filters;
* ``pandera_pandas`` — validating the declared pandera schema
  (:func:`wikivis.gates.rules.pandera_schema`) on pandas, conversion included, on a slice
  (it is slow; rows/s is what is compared).  It does *less* work: no references, drift or filters.

Synthetic data: ``--rows`` article_images rows over ~rows/3.3 pages and rows/5 files; 20
"flag" icons used on ~5% of pages, 2% ``.svg`` names, 0.1% dangling file names.  Sorted by
(page_id, file_name) as the lake writes it.

Usage: ``python bench/gates.py [--rows 5000000] [--pandera-rows 300000]``
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import emit, peak_rss_mb, say, timer
from wikivis.config import load_settings
from wikivis.datasets import schema
from wikivis.gates.filters import article_link_counts, blacklisted_mask, icon_threshold, wikimedia_filters
from wikivis.gates.rules import pandera_schema, to_pandas
from wikivis.gates.stages import shared_link_counts
from wikivis.gates.tables import check_table

SNAPSHOT, PREVIOUS = "20240301", "20240220"
NOW = datetime(2024, 3, 5, tzinfo=UTC)


def padded(prefix: str, numbers: np.ndarray, suffix: str, width: int = 8) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, suffix, "")


def synthetic(rows: int, seed: int = 0) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    n_pages, n_files = max(1, int(rows / 3.3)), max(1, rows // 5)
    per_page = rng.integers(1, 6, n_pages)
    # ~10% extra: repeated (page, file) pairs are dropped below, then the frame is cut to `rows`
    per_page = np.maximum(1, np.round(per_page * rows * 1.15 / per_page.sum())).astype(np.int64)
    page_index = np.repeat(np.arange(n_pages), per_page)
    slot = np.arange(len(page_index)) - np.repeat(np.cumsum(per_page) - per_page, per_page)
    file_id = (page_index * 7919 + slot * 104_729) % n_files
    icons = rng.random(len(page_index)) < 0.05  # ~5% of rows link one of 20 flags
    file_id = np.where(icons & (slot == 0), rng.integers(0, 20, len(page_index)), file_id)
    order = np.lexsort((file_id, page_index))
    page_index, file_id = page_index[order], file_id[order]
    keep = np.ones(len(file_id), dtype=bool)
    keep[1:] = (page_index[1:] != page_index[:-1]) | (file_id[1:] != file_id[:-1])
    page_index, file_id = page_index[keep][:rows], file_id[keep][:rows]

    suffix = np.where(np.arange(n_files) % 50 == 0, ".svg", ".jpg")
    names = pc.binary_join_element_wise(padded("Photo_", np.arange(n_files), ""), pa.array(suffix), "")
    names = pc.if_else(pa.array(np.arange(n_files) < 20), padded("Flag_of_country_", np.arange(n_files), ".png"), names)
    titles = padded("Article_title_", np.arange(n_pages), "")
    n = len(page_index)
    images = pa.table(
        {
            "wiki": pa.array(np.full(n, "samplewiki", dtype=object), pa.string()),
            "page_id": pa.array(page_index + 1, pa.int64()),
            "page_namespace": pa.array(np.zeros(n, dtype=np.int32)),
            "page_title": pc.take(titles, pa.array(page_index)),
            "file_name": pc.take(names, pa.array(file_id)),
            "is_lead": pa.array(np.r_[True, page_index[1:] != page_index[:-1]]),
        },
        schema=schema("article_images"),
    )
    known = pa.array(np.arange(n_files) % 1000 != 999)  # 0.1% of files missing from `files`
    files = pa.table({"file_name": pc.filter(names, known)})
    pages = pa.table({"page_id": pa.array(np.arange(1, n_pages + 1), pa.int64()),
                      "is_redirect": pa.array(np.zeros(n_pages, dtype=bool))})
    previous = images.select(["page_id", "is_lead"]).slice(0, int(n * 0.98))
    return {"images": images, "files": files, "pages": pages, "previous": previous}


def gate_article_images(data: dict[str, pa.Table], settings) -> tuple[int, int]:
    images = data["images"]
    results, facts = check_table(
        "article_images", images, settings=settings, wiki="samplewiki", snapshot=SNAPSHOT,
        previous_table=data["previous"], previous=PREVIOUS,
        references={"files": data["files"], "pages": data["pages"]}, now=NOW,
    )
    n_articles = data["pages"].num_rows
    _, quarantine = wikimedia_filters(images, n_articles, link_counts=shared_link_counts(facts, images))
    return sum(r.outcome == "fail" for r in results), quarantine.num_rows


def naive_pyarrow(data: dict[str, pa.Table]) -> None:
    """The same checks without the shortcuts (hash everything, scan every row)."""
    t = data["images"]
    _ = [t.column(c).null_count for c in t.column_names]
    t.group_by(["page_id", "file_name"]).aggregate([([], "count_all")])
    pc.min_max(t.column("page_id"))
    for col in ("page_title", "file_name"):
        pc.match_substring_regex(t.column(col), r"^[^#<>\[\]|{}\n]+$")
        pc.utf8_length(t.column(col))
    pc.is_in(t.column("file_name"), value_set=data["files"].column("file_name"))
    pc.is_in(t.column("page_id"), value_set=data["pages"].column("page_id"))
    for table in (t, data["previous"]):
        pc.count_distinct(table.column("page_id"))
        pc.sum(table.column("is_lead"))
    counts = article_link_counts(t)
    pc.greater(counts.column("articles"), icon_threshold(data["pages"].num_rows))
    blacklisted_mask(counts.column("file_name"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--pandera-rows", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings(env={})

    with timer() as t:
        data = synthetic(args.rows)
    rows = data["images"].num_rows
    say(f"synthetic article_images: {rows:,} rows, {data['files'].num_rows:,} files, "
        f"{data['pages'].num_rows:,} pages ({t['s']:.1f}s to build)")

    gate_s = []
    for _ in range(args.repeat):
        with timer() as t:
            failures, quarantined = gate_article_images(data, settings)
        gate_s.append(t["s"])
    best = min(gate_s)
    say(f"wikivis gate (vectorised): {best:.2f}s best of {args.repeat} → {rows / best:,.0f} rows/s "
        f"({failures} failing checks, {quarantined} files quarantined)")

    with timer() as t:
        naive_pyarrow(data)
    naive_rate = rows / t["s"]
    say(f"baseline naive pyarrow:    {t['s']:.2f}s → {naive_rate:,.0f} rows/s")

    part = data["images"].slice(0, min(args.pandera_rows, rows))
    with timer() as t:
        frame = to_pandas(part)
        pandera_schema("article_images").validate(frame, lazy=True)
    pandera_rate = part.num_rows / t["s"]
    say(f"baseline pandera on pandas ({part.num_rows:,} rows, conversion included): {t['s']:.2f}s → "
        f"{pandera_rate:,.0f} rows/s")

    rate = rows / best
    emit({
        "bench": "gates",
        "rows": rows,
        "seconds": round(best, 3),
        "rows_per_s": round(rate),
        "naive_pyarrow_rows_per_s": round(naive_rate),
        "pandera_pandas_rows_per_s": round(pandera_rate),
        "speedup_vs_naive_pyarrow": round(rate / naive_rate, 2),
        "speedup_vs_pandera": round(rate / pandera_rate, 2),
        "goal_rows_per_s": 1_000_000,
        "meets_goal": rate >= 1_000_000,
        "peak_rss_mb": round(peak_rss_mb()),
    })


if __name__ == "__main__":
    main()
