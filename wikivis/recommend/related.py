"""Related articles, the seed source for articles that have no image yet.

An unillustrated article has no visual profile, so its seeds are the images of articles
related to it — the same idea as Wikimedia's P373 (Commons category) source, with what
the lake holds:

* **shared categories**, each weighted ``1 / log2(1 + members)`` (Adamic–Adar): sharing
  a 5-article category says more than sharing a 5 000-article one.  Categories with more
  than ``max_category_size`` members (tracking and maintenance categories such as
  "Articles with short description") are ignored entirely;
* **links** (either direction), weight ``link_weight`` each, when a link map is given.

Only related articles that have at least one usable image count.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from wikivis.recommend.data import RecData


@dataclass(frozen=True)
class Related:
    page_id: int
    title: str
    weight: float
    via: tuple[str, ...]  # "category:<name>" / "link"


def related_articles(
    data: RecData,
    page_id: int,
    *,
    limit: int = 10,
    max_category_size: int = 1000,
    link_weight: float = 1.0,
    has_images: Callable[[int], bool] | None = None,
) -> list[Related]:
    """Articles related to ``page_id``, strongest first (ties by page_id)."""
    weight: dict[int, float] = defaultdict(float)
    via: dict[int, list[str]] = defaultdict(list)
    for cat in data.categories.get(page_id, ()):
        members = data.category_members.get(cat, [])
        if len(members) > max_category_size:
            continue
        w = 1.0 / math.log2(1 + len(members))
        for other in members:
            if other != page_id:
                weight[other] += w
                via[other].append(f"category:{cat}")
    for other in data.neighbours_by_link.get(page_id, ()):
        weight[other] += link_weight
        via[other].append("link")
    usable = has_images or (lambda pid: bool(data.page_items.get(pid)))
    ranked = sorted((pid for pid in weight if usable(pid)), key=lambda pid: (-weight[pid], pid))
    return [Related(pid, data.titles.get(pid, str(pid)), weight[pid], tuple(via[pid])) for pid in ranked[:limit]]
