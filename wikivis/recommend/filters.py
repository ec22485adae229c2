"""Wikimedia's image-suggestion filters, applied to every candidate and every seed image.

The rules themselves live in :mod:`wikivis.gates.filters` (the ImageMatching icon
threshold that grows with the log of the wiki size, and the file-name blacklist of
placeholders, flags, maps, icons and logos); this module applies them **per image
(sha1)** for the recommenders, and adds the licence rule:

* **over-used** (``icon``): the image is linked from more articles than
  :func:`~wikivis.gates.filters.icon_threshold` allows; usage is counted per sha1 over all
  of its file names;
* **name** (``name:<substring>``): *every* file name of the image contains a blacklisted
  substring (one clean name is enough to keep a re-upload), unless allow-listed;
* **non-free** (``non_free``): Commons ``extmetadata`` marks the file non-free (fair-use
  uploads on local wikis) — such files must never be suggested;
* ``no_file``: an embedding whose sha1 no file name points at (nothing to show).

Every drop is counted by reason (:attr:`ImageFilter.drop_counts`), never silent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from wikivis.gates.filters import blacklist_match, icon_threshold
from wikivis.recommend.data import RecData


@dataclass(frozen=True)
class ImageFilter:
    """Which images (sha1) may be suggested or used as seeds, and why the others may not."""

    usage: Mapping[str, int]
    files_of_sha1: Mapping[str, list[str]]
    threshold: float
    non_free: frozenset[str] = frozenset()
    allow_names: frozenset[str] = frozenset()
    drop_counts: Counter[str] = field(default_factory=Counter, compare=False)
    _memo: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_data(
        cls,
        data: RecData,
        *,
        threshold: float | None = None,
        allow_names: Iterable[str] = (),
    ) -> ImageFilter:
        return cls(
            usage=data.item_usage,
            files_of_sha1=data.files_of_sha1,
            threshold=icon_threshold(data.wiki_size) if threshold is None else threshold,
            non_free=data.non_free,
            allow_names=frozenset(allow_names),
        )

    def reason(self, sha1: str) -> str | None:
        """Why ``sha1`` is filtered out (``icon``, ``name:<word>``, ``non_free``, ``no_file``)."""
        if sha1 not in self._memo:
            self._memo[sha1] = self._reason(sha1)
        return self._memo[sha1]

    def _reason(self, sha1: str) -> str | None:
        if self.usage.get(sha1, 0) > self.threshold:
            return "icon"
        names = self.files_of_sha1.get(sha1)
        if not names:
            return "no_file"
        reasons = [self._name_reason(n) for n in names]
        if all(reasons):
            return reasons[0]
        return None

    def _name_reason(self, name: str) -> str | None:
        if name in self.non_free:
            return "non_free"
        if name in self.allow_names:
            return None
        word = blacklist_match(name)
        return f"name:{word}" if word else None

    def allowed(self, sha1: str) -> bool:
        why = self.reason(sha1)
        if why is not None:
            self.drop_counts[why.split(":", 1)[0]] += 1
            return False
        return True

    def mask(self, item_ids: Iterable[str]) -> np.ndarray:
        """Boolean mask of allowed items over ``item_ids`` (drops are counted)."""
        return np.fromiter((self.allowed(s) for s in item_ids), dtype=bool)


def filter_reasons(data: RecData, image_filter: ImageFilter) -> Counter[str]:
    """How many catalogue images each filter removes (for reports)."""
    return Counter(r.split(":", 1)[0] for r in map(image_filter.reason, data.item_ids) if r)
