"""Wikimedia's image-suggestion filters, applied to every candidate and every seed image.

Taken from the Foundation's ImageMatching prototype (mirrys/ImageMatching, the notebook
that gathers the data for T286562) and the production pipeline that followed it:

* **Over-used images are icons.**  A file linked (``imagelinks``) from more articles than a
  threshold is an icon, flag, map or placeholder.  The threshold grows with the log of
  the wiki size: ``ceil((log10(n / 50000) + 1) · 15)`` for ``n ≥ 50 000`` articles, and
  ``ceil(max(n / 50000 · 15, 15 / 4))`` below, so it is 4 on a 300-article wiki, 15 at
  50 000 articles and 50 on English Wikipedia (~6.9 M).  Usage is counted per image
  (sha1), over all of its file names.
* **Name blacklist.**  File names containing (case-insensitive) one of
  :data:`NAME_BLACKLIST` — ImageMatching's list plus ``icon`` and ``logo`` — are
  placeholders or chrome.  Substring matching is what Wikimedia does, and it has false
  positives (``map`` matches ``Maple``); an allow-list of exceptions can be passed.
* **Non-free licences.**  Files whose Commons ``extmetadata`` marks them non-free (fair-use
  uploads on local wikis) must not be suggested.

Every drop is counted by reason (:attr:`ImageFilter.drop_counts`), never silent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from wikivis.recommend.data import RecData

#: substrings of file names that mark icons and placeholders (lower case)
NAME_BLACKLIST: tuple[str, ...] = (
    "flag",
    "map",
    "icon",
    "logo",
    "noimage",
    "no_image",
    "noantimage",
    "no_free_image",
    "image_manquante",
    "replace_this_image",
    "disambig",
    "regions",
    "default",
    "defaut",
    "falta_imagem_",
    "imagena",
    "noenzyimage",
)

_BASE_WIKI_SIZE = 50_000
_BASE_THRESHOLD = 15


def icon_threshold(n_articles: int) -> int:
    """Max number of articles an image may appear in before it counts as an icon."""
    if n_articles >= _BASE_WIKI_SIZE:
        return math.ceil((math.log10(n_articles / _BASE_WIKI_SIZE) + 1) * _BASE_THRESHOLD)
    return math.ceil(max(n_articles / _BASE_WIKI_SIZE * _BASE_THRESHOLD, _BASE_THRESHOLD / 4))


def blacklisted_name(file_name: str, blacklist: Iterable[str] = NAME_BLACKLIST) -> str | None:
    """The blacklisted substring found in ``file_name`` (case-insensitive), if any."""
    lowered = file_name.lower()
    return next((word for word in blacklist if word in lowered), None)


@dataclass(frozen=True)
class ImageFilter:
    """Which images (sha1) may be suggested or used as seeds, and why the others may not."""

    usage: Mapping[str, int]
    files_of_sha1: Mapping[str, list[str]]
    threshold: int
    non_free: frozenset[str] = frozenset()
    blacklist: tuple[str, ...] = NAME_BLACKLIST
    allow_names: frozenset[str] = frozenset()
    drop_counts: Counter[str] = field(default_factory=Counter, compare=False)
    _memo: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_data(
        cls,
        data: RecData,
        *,
        threshold: int | None = None,
        blacklist: tuple[str, ...] = NAME_BLACKLIST,
        allow_names: Iterable[str] = (),
    ) -> ImageFilter:
        return cls(
            usage=data.item_usage,
            files_of_sha1=data.files_of_sha1,
            threshold=icon_threshold(data.wiki_size) if threshold is None else threshold,
            non_free=data.non_free,
            blacklist=blacklist,
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
        word = blacklisted_name(name, self.blacklist)
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
