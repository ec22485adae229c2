"""Held-out article → image links.

For every article with at least ``min_items`` (default 2) usable images, one image is
held out as the test item and the rest stay as the article's profile; articles with
fewer images stay entirely in training (they still count for popularity).

* **Temporal** when the interactions carry a ``timestamp`` column (e.g. when the link
  first appeared): the most recent image is held out, as the tutorial does with its
  time-ordered interactions.  Ties go to the larger file name, deterministically.
* **Random** otherwise: one image per article chosen with ``numpy.random.default_rng(seed)``,
  articles visited in ``page_id`` order, so a seed always gives the same split.

"Usable" means: has an embedding and passes Wikimedia's filters when a filter is given.
Icons and placeholders are neither candidates nor held-out items, because the
production recommender would never suggest them; the report states this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wikivis.recommend.data import RecData
from wikivis.recommend.filters import ImageFilter

TIME_COLUMN = "timestamp"


@dataclass(frozen=True)
class Split:
    """Rows of ``data.vectors`` per page_id, and the candidate catalogue."""

    train: dict[int, list[int]]
    test: dict[int, list[int]]
    catalogue: np.ndarray  # bool per row: may be ranked at all
    method: str
    seed: int

    @property
    def n_test_users(self) -> int:
        return len(self.test)


def holdout_split(
    data: RecData,
    *,
    image_filter: ImageFilter | None = None,
    seed: int = 0,
    min_items: int = 2,
) -> Split:
    """One held-out image per article with ≥ ``min_items`` usable images (see module doc)."""
    allowed = image_filter.allowed if image_filter is not None else (lambda _s: True)
    catalogue = np.fromiter((allowed(s) for s in data.item_ids), dtype=bool, count=len(data.item_ids))
    times = _link_times(data)
    rng = np.random.default_rng(seed)
    train: dict[int, list[int]] = {}
    test: dict[int, list[int]] = {}
    for page_id in sorted(data.page_items):
        rows = [data.row_of[s] for s in data.page_items[page_id] if catalogue[data.row_of[s]]]
        if len(rows) < min_items:
            train[page_id] = rows
            continue
        if times is not None:
            stamp = times.get(page_id, {})
            held = max(rows, key=lambda r: (stamp.get(r, ""), data.display_name(data.item_ids[r])))
        else:
            held = rows[int(rng.integers(len(rows)))]
        train[page_id] = [r for r in rows if r != held]
        test[page_id] = [held]
    return Split(train, test, catalogue, "temporal" if times is not None else "random", seed)


def _link_times(data: RecData) -> dict[int, dict[int, str]] | None:
    """page_id → row → earliest timestamp of the link, when the column exists."""
    if TIME_COLUMN not in data.interactions.column_names:
        return None
    cols = data.interactions.select(["page_id", "file_name", TIME_COLUMN]).to_pydict()
    out: dict[int, dict[int, str]] = {}
    for page_id, name, ts in zip(cols["page_id"], cols["file_name"], cols[TIME_COLUMN], strict=True):
        sha1 = data.file_sha1.get(name)
        if sha1 is None or sha1 not in data.row_of or ts is None:
            continue
        row = data.row_of[sha1]
        stamp = str(ts)
        per_page = out.setdefault(page_id, {})
        if row not in per_page or stamp < per_page[row]:
            per_page[row] = stamp
    return out
