"""The one thing the recommenders need from a vector index: :class:`VectorSearch`.

``wikivis.index.load_index(settings)`` returns a ``LoadedIndex`` (faiss Flat/HNSW/IVF-PQ,
chosen by budget) that fits this protocol; :class:`ExactSearch` is an exact in-memory
implementation (faiss ``IndexFlatIP``) for tests, small wikis and as a fallback.

Contract assumed for any implementation:

* ``search(vectors, k) -> (scores, ids)``: ``vectors`` is ``(q, d)`` float32; ``scores``
  and ``ids`` are ``(q, k')`` with ``k' <= k``.  Scores are **similarities** (larger is
  closer; cosine / inner product on unit vectors).  ``ids`` are sha1 strings; empty slots
  (fewer than k vectors) are ``""``, ``None`` or ``-1`` and are skipped by
  :func:`neighbours`.
* ``vector_for(sha1) -> np.ndarray`` (``(d,)``) raises ``KeyError`` (or
  ``wikivis.errors.NotFoundError``) for an unknown sha1.

An index whose ``metric`` attribute is ``"l2"`` returns squared distances; :func:`neighbours`
turns them into cosine similarities (``1 - d/2`` on unit vectors) so callers see one scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import faiss
import numpy as np

from wikivis.errors import NotFoundError
from wikivis.recommend.data import l2_normalise


@runtime_checkable
class VectorSearch(Protocol):
    """k-nearest-neighbour search over sha1-keyed image vectors (see module doc)."""

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def vector_for(self, sha1: str) -> np.ndarray: ...


class ExactSearch:
    """Exact cosine kNN with faiss ``IndexFlatIP`` over L2-normalised vectors."""

    metric = "ip"

    def __init__(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        self._ids = np.asarray(list(ids), dtype=object)
        self._unit = l2_normalise(vectors)
        self._row = {sha1: i for i, sha1 in enumerate(self._ids)}
        self._index = faiss.IndexFlatIP(self._unit.shape[1])
        if len(self._unit):
            self._index.add(self._unit)

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = l2_normalise(np.atleast_2d(vectors))
        k = max(0, min(k, len(self._ids)))
        if k == 0:
            empty = np.empty((len(queries), 0))
            return empty.astype(np.float32), empty.astype(object)
        scores, rows = self._index.search(queries, k)
        ids = np.where(rows >= 0, self._ids[np.clip(rows, 0, None)], "")
        return scores, ids.astype(object)

    def vector_for(self, sha1: str) -> np.ndarray:
        try:
            values: np.ndarray = self._unit[self._row[sha1]]
            return values
        except KeyError:
            raise NotFoundError(f"no vector for sha1 {sha1}") from None


def vector_or_none(search: VectorSearch, sha1: str) -> np.ndarray | None:
    """``search.vector_for(sha1)``, or ``None`` when the index does not hold it."""
    try:
        vec = search.vector_for(sha1)
    except (KeyError, NotFoundError, IndexError):
        return None
    return None if vec is None else np.asarray(vec, dtype=np.float32).reshape(-1)


def neighbours(search: VectorSearch, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """Run ``search`` and return, per query, ``[(sha1, cosine similarity), ...]`` best first.

    Empty slots are dropped and a sha1 appearing twice keeps its best score.
    """
    scores, ids = search.search(np.atleast_2d(np.asarray(vectors, dtype=np.float32)), k)
    scores = np.asarray(scores, dtype=np.float64)
    if getattr(search, "metric", "ip") == "l2":
        scores = 1.0 - scores / 2.0
    out: list[list[tuple[str, float]]] = []
    for row_scores, row_ids in zip(scores, np.asarray(ids, dtype=object), strict=True):
        seen: set[str] = set()
        row: list[tuple[str, float]] = []
        for score, sha1 in zip(row_scores, row_ids, strict=True):
            if sha1 is None or isinstance(sha1, (int, np.integer)) or sha1 == "" or sha1 in seen:
                continue
            seen.add(str(sha1))
            row.append((str(sha1), float(score)))
        row.sort(key=lambda t: -t[1])
        out.append(row)
    return out
