"""`RecommenderService`: similar images and image suggestions for articles.

This is what the CLI (``wikivis similar`` / ``wikivis suggest``) and the HTTP app call.
It holds the plain data (:class:`~wikivis.recommend.data.RecData`), a
:class:`~wikivis.recommend.search.VectorSearch` and optionally a trained CuratorNet, and
applies Wikimedia's filters to every seed and every candidate.

Suggestions for an article:

1. **Illustrated article** → seeds are its own (filtered) images, lead first, at most
   ``max_seeds``; VisRank over kNN candidates; the article's current images are never
   suggested.  ``source = "visrank"``.
2. **Unillustrated article** → seeds are the images of related articles (shared
   categories, links; :mod:`wikivis.recommend.related`), taken round-robin so that one
   image-heavy article does not drown the others.  ``source = "category_seed"``, and
   each suggestion names the seed articles behind its closest seed images.
3. With ``model="curatornet"`` (or ``"auto"`` when a checkpoint is loaded) the same
   candidate pool is re-ranked by CuratorNet; ``source = "curatornet"``.

Unknown titles/files raise :class:`~wikivis.errors.NotFoundError` with a reason; an
article with no usable seed gets an empty list and a ``note`` saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from wikivis.errors import NotFoundError
from wikivis.recommend.curatornet import CuratorNetModel
from wikivis.recommend.data import RecData
from wikivis.recommend.filters import ImageFilter
from wikivis.recommend.provenance import Source, Suggestion
from wikivis.recommend.related import Related, related_articles
from wikivis.recommend.search import ExactSearch, VectorSearch, neighbours, vector_or_none
from wikivis.recommend.visrank import (
    DEFAULT_AGGREGATION,
    DEFAULT_TOP,
    Aggregation,
    Ranked,
    candidate_pool,
    vectors_of,
    visrank_knn,
)

if TYPE_CHECKING:
    pass

ModelChoice = Literal["auto", "visrank", "curatornet"]
MODEL_CHOICES: tuple[str, ...] = ("auto", "visrank", "curatornet")


class ModelUnavailable(NotFoundError):
    """The requested trained model has no checkpoint loaded."""


@dataclass(frozen=True)
class SuggestResult:
    article: str
    page_id: int
    illustrated: bool
    model: str
    suggestions: list[Suggestion]
    seed_articles: list[Related] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "article": self.article,
            "page_id": self.page_id,
            "illustrated": self.illustrated,
            "model": self.model,
            "suggestions": [s.to_dict() for s in self.suggestions],
            "seed_articles": [
                {"title": r.title, "page_id": r.page_id, "weight": round(r.weight, 6), "via": list(r.via)}
                for r in self.seed_articles
            ],
            "note": self.note,
        }


class RecommenderService:
    """Similar images and per-article suggestions over one wiki (see module doc)."""

    def __init__(
        self,
        data: RecData,
        search: VectorSearch | None = None,
        *,
        curatornet: CuratorNetModel | None = None,
        image_filter: ImageFilter | None = None,
        method: Aggregation = DEFAULT_AGGREGATION,
        top: int = DEFAULT_TOP,
        max_seeds: int = 12,
        related_limit: int = 10,
        wiki: str = "",
        model_id: str = "",
        index_kind: str = "",
    ) -> None:
        self.data = data
        self.search: VectorSearch = search or ExactSearch(data.item_ids, data.vectors)
        self.curatornet = curatornet
        self.filter = image_filter or ImageFilter.for_data(data)
        self.method: Aggregation = method
        self.top = top
        self.max_seeds = max_seeds
        self.related_limit = related_limit
        self.wiki = wiki
        self.model_id = model_id
        self.index_kind = index_kind or ("exact" if search is None else type(search).__name__)

    # ------------------------------------------------------------------ similar
    def similar(self, file: str, k: int = 10, *, filtered: bool = True) -> list[Suggestion]:
        """The ``k`` images most similar to ``file`` (name, ``File:`` name or sha1)."""
        sha1 = self.data.resolve_file(file)
        if sha1 is None:
            raise NotFoundError(f"unknown file {file!r}")
        vec = vector_or_none(self.search, sha1)
        if vec is None:
            raise NotFoundError(f"file {file!r} (sha1 {sha1}) has no embedding in the index yet")
        accept = self.filter.allowed if filtered else (lambda _s: True)
        found: list[tuple[str, float]] = []
        ask = k + 1
        for _round in range(5):  # widen the search until k filtered results or the index is exhausted
            row = neighbours(self.search, vec, ask)[0]
            found = [(s, score) for s, score in row if s != sha1 and accept(s)]
            if len(found) >= k or len(row) < ask:
                break
            ask *= 4
        seed = (self.data.display_name(sha1) or sha1,)
        return [
            Suggestion(s, self.data.display_name(s), score, rank, "similar", seed_images=seed)
            for rank, (s, score) in enumerate(found[:k], start=1)
        ]

    # ------------------------------------------------------------------ suggest
    def suggest(self, article: str, k: int = 10, *, model: ModelChoice = "auto") -> SuggestResult:
        """Up to ``k`` images for ``article`` (any title spelling), with provenance."""
        page_id = self.data.resolve_title(article)
        if page_id is None:
            raise NotFoundError(f"unknown article {article!r}")
        title = self.data.titles[page_id]
        use_net = self._choose_model(model)
        own_all = self.data.page_items.get(page_id, [])
        own = [s for s in own_all if self.filter.allowed(s)][: self.max_seeds]
        related: list[Related] = []
        owner: dict[str, list[str]] = {}
        source: Source
        if own:
            seeds = own
            source = "visrank"
        else:
            related = related_articles(self.data, page_id, limit=self.related_limit, has_images=self._has_usable_images)
            seeds, owner = self._seeds_from(related)
            source = "category_seed"
        model_name = "curatornet" if use_net else "visrank"
        if not seeds:
            why = "no related article with usable images"
            if own_all:
                why = f"its own images are all filtered out (Wikimedia filters) and {why}"
            return SuggestResult(title, page_id, bool(own_all), model_name, [], related, note=why)
        if use_net:
            ranked = self._curatornet_rank(seeds, k, exclude=own_all)
            source = "curatornet"
        else:
            ranked = visrank_knn(
                self.search, seeds, k, method=self.method, top=self.top, exclude=own_all, allowed=self.filter.allowed
            )
        suggestions = [self._suggestion(r, rank, source, owner) for rank, r in enumerate(ranked, start=1)]
        return SuggestResult(title, page_id, bool(own_all), model_name, suggestions, related)

    def _choose_model(self, model: str) -> bool:
        if model == "visrank":
            return False
        if model == "curatornet":
            if self.curatornet is None:
                raise ModelUnavailable("no CuratorNet checkpoint is loaded: train one with `wikivis eval train`")
            return True
        if model == "auto":
            return self.curatornet is not None
        raise ValueError(f"unknown model {model!r}; use one of {MODEL_CHOICES}")

    def _has_usable_images(self, page_id: int) -> bool:
        return any(self.filter.allowed(s) for s in self.data.page_items.get(page_id, ()))

    def _seeds_from(self, related: Sequence[Related]) -> tuple[list[str], dict[str, list[str]]]:
        """Round-robin over related articles' usable images, lead images first."""
        per_article = [[s for s in self.data.page_items.get(r.page_id, []) if self.filter.allowed(s)] for r in related]
        seeds: list[str] = []
        owner: dict[str, list[str]] = {}
        for depth in range(max((len(p) for p in per_article), default=0)):
            for r, images in zip(related, per_article, strict=True):
                if depth < len(images):
                    sha1 = images[depth]
                    owner.setdefault(sha1, []).append(r.title)
                    if sha1 not in seeds and len(seeds) < self.max_seeds:
                        seeds.append(sha1)
        return seeds, owner

    def _curatornet_rank(self, seeds: Sequence[str], k: int, *, exclude: Sequence[str]) -> list[Ranked]:
        assert self.curatornet is not None
        pool, seed_ids = candidate_pool(
            self.search, seeds, max(100, 5 * k), exclude=exclude, allowed=self.filter.allowed
        )
        if not pool:
            return []
        seed_ids, seed_vecs = vectors_of(self.search, seed_ids)
        pool, pool_vecs = vectors_of(self.search, pool)
        scores = self.curatornet.score(seed_vecs, pool_vecs)
        order = np.lexsort((np.arange(len(pool)), -scores))[:k]
        closest = np.argsort(-(pool_vecs @ seed_vecs.T), axis=1, kind="stable")[:, :3]
        return [Ranked(pool[i], float(scores[i]), tuple(seed_ids[j] for j in closest[i])) for i in order]

    def _suggestion(self, r: Ranked, rank: int, source: Source, owner: dict[str, list[str]]) -> Suggestion:
        seed_articles = tuple(dict.fromkeys(t for s in r.seeds for t in owner.get(s, ())))
        return Suggestion(
            sha1=r.sha1,
            file_name=self.data.display_name(r.sha1),
            score=r.score,
            rank=rank,
            source=source,
            seed_images=tuple(self.data.display_name(s) or s for s in r.seeds),
            seed_articles=seed_articles,
        )

    # ------------------------------------------------------------------- health
    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "wiki": self.wiki,
            "model_id": self.model_id,
            "index": self.index_kind,
            "images": len(self.data.item_ids),
            "articles": len(self.data.titles),
            "illustrated_articles": sum(1 for v in self.data.page_items.values() if v),
            "icon_threshold": self.filter.threshold,
            "curatornet": self.curatornet is not None,
        }
