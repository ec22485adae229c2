"""A suggestion and where it came from.

Wikimedia keeps "why was this suggested" next to every image suggestion (``source``,
``found_on``) so that reviewers can judge it and bad sources can be switched off; wikivis
does the same.  ``source`` is one of :data:`SOURCES`:

* ``similar`` — nearest neighbours of one image (``/similar``);
* ``visrank`` — VisRank over the article's own images (``seed_images``);
* ``category_seed`` — VisRank over images of related articles (``seed_articles``: those
  articles, found through shared categories or links), for unillustrated articles;
* ``curatornet`` / ``vbpr`` — a trained model re-ranking the candidates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Source = Literal["similar", "visrank", "category_seed", "curatornet", "vbpr"]
SOURCES: tuple[str, ...] = ("similar", "visrank", "category_seed", "curatornet", "vbpr")


@dataclass(frozen=True)
class Suggestion:
    """One suggested image (identified by sha1), ranked 1..k, with its provenance."""

    sha1: str
    file_name: str
    score: float
    rank: int
    source: Source
    seed_images: tuple[str, ...] = ()
    seed_articles: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seed_images"] = list(self.seed_images)
        d["seed_articles"] = list(self.seed_articles)
        return d
