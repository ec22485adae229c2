"""Embedding and index checks.

Embeddings (dataset name ``embeddings``, or ``embeddings/<model>``):

``dimension``  a 2-D matrix with the expected number of columns; ids aligned and unique
``finite``     no NaN or ±inf anywhere (one bad value poisons every distance)
``norm``       no zero vectors; with ``normalized=True`` every norm within 1e-3 of 1
``collapse``   on a sample, the share of vectors whose nearest other vector has cosine
               > 0.999 stays within ``Settings.gate_max_duplicate_fraction`` — a broken
               model or preprocessing maps many different images to (almost) one point.
               The mean cosine of random pairs is reported too, but not judged: features
               after a ReLU are all positive, so their random pairs are legitimately close.

Index (dataset ``index``): takes a ``search(queries, k)`` callable and the exact vectors —
nothing about how the index is built.

``index_size`` the index holds as many vectors as there are embeddings
``recall``     recall@k of ``search`` against exact search (faiss ``IndexFlat``; cosine by
               default, as the index normalises, or ``ip``/``l2``) on a sample of the vectors
               used as queries, at least ``Settings.recall_threshold``.  A
               returned neighbour counts as a hit when its exact score is at least the k-th
               exact score (minus 1e-5), so ties between equal vectors are not misses.

Vectors are processed in blocks of :data:`BLOCK_ROWS` rows so a million 1280-d float32
vectors never need a second full copy in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import faiss
import numpy as np

from wikivis.gates.results import FAIL, PASS, CheckResult

BLOCK_ROWS = 65_536
DUPLICATE_COSINE = 0.999
NORM_TOLERANCE = 1e-3
ZERO_NORM = 1e-6
TIE_TOLERANCE = 1e-5

SearchFn = Callable[[np.ndarray, int], Any]
Metric = Literal["cosine", "ip", "l2"]


def _id_of(ids: Sequence[Any] | None, row: int) -> Any:
    return ids[row] if ids is not None else row


def _sample_rows(n: int, size: int, seed: int = 0) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def check_dimension(vectors: np.ndarray, dataset: str, *, expected_dim: int | None, ids: Sequence[Any] | None) -> CheckResult:
    shape = tuple(int(s) for s in vectors.shape)
    metrics: dict[str, Any] = {"shape": list(shape), "expected_dim": expected_dim}
    problems = []
    if vectors.ndim != 2:
        problems.append(f"expected a 2-D matrix, got shape {shape}")
    elif expected_dim is not None and shape[1] != expected_dim:
        problems.append(f"vectors have {shape[1]} dimensions, the model gives {expected_dim}")
    if ids is not None and len(ids) != shape[0]:
        problems.append(f"{len(ids)} ids for {shape[0]} vectors")
    elif ids is not None:
        distinct = len(set(ids))
        if distinct != len(ids):
            problems.append(f"{len(ids) - distinct} repeated id(s)")
    if problems:
        example = {"row": 0, "id": _id_of(ids, 0) if ids is not None and len(ids) else None, "shape": list(shape)}
        return CheckResult("dimension", dataset, FAIL, metrics, "; ".join(problems), example)
    return CheckResult("dimension", dataset, PASS, metrics, f"{shape[0]} vector(s) of {shape[-1]} dimensions")


def _example(vectors: np.ndarray, ids: Sequence[Any] | None, row: int, **extra: Any) -> dict[str, Any]:
    head = [float(v) for v in vectors[row, :6]]
    return {"row": int(row), "id": _id_of(ids, row), "first_values": head, **extra}


def check_finite_and_norm(
    vectors: np.ndarray, dataset: str, *, ids: Sequence[Any] | None, normalized: bool | None,
) -> tuple[CheckResult, CheckResult, np.ndarray]:
    """The ``finite`` and ``norm`` checks in one pass; also returns the per-row norms."""
    n = vectors.shape[0]
    norms = np.empty(n, dtype=np.float64)
    finite_rows = np.empty(n, dtype=bool)
    for start in range(0, n, BLOCK_ROWS):
        block = np.asarray(vectors[start : start + BLOCK_ROWS], dtype=np.float32)
        finite_rows[start : start + len(block)] = np.isfinite(block).all(axis=1)
        with np.errstate(over="ignore", invalid="ignore"):
            norms[start : start + len(block)] = np.linalg.norm(block.astype(np.float64), axis=1)
    bad_rows = np.flatnonzero(~finite_rows)
    if len(bad_rows):
        finite = CheckResult(
            "finite", dataset, FAIL, {"non_finite_rows": len(bad_rows), "rows": n},
            f"{len(bad_rows)} of {n} vector(s) hold NaN or infinite values", _example(vectors, ids, int(bad_rows[0])),
        )
    else:
        finite = CheckResult("finite", dataset, PASS, {"non_finite_rows": 0, "rows": n}, "every value is finite")

    good = norms[finite_rows]
    metrics: dict[str, Any] = {
        "min": float(good.min()) if len(good) else None,
        "mean": float(good.mean()) if len(good) else None,
        "max": float(good.max()) if len(good) else None,
        "normalized": normalized,
    }
    zero = np.flatnonzero(finite_rows & (norms < ZERO_NORM))
    off_unit = np.flatnonzero(finite_rows & (np.abs(norms - 1.0) > NORM_TOLERANCE)) if normalized else np.array([], dtype=int)
    metrics.update(zero_rows=len(zero), off_unit_rows=len(off_unit))
    if len(zero):
        norm = CheckResult("norm", dataset, FAIL, metrics, f"{len(zero)} zero vector(s) (norm < {ZERO_NORM})",
                           _example(vectors, ids, int(zero[0]), norm=float(norms[zero[0]])))
    elif len(off_unit):
        norm = CheckResult("norm", dataset, FAIL, metrics,
                           f"{len(off_unit)} vector(s) are not unit length (|norm − 1| > {NORM_TOLERANCE})",
                           _example(vectors, ids, int(off_unit[0]), norm=float(norms[off_unit[0]])))
    else:
        norm = CheckResult("norm", dataset, PASS, metrics, "norms in range" + (" (unit length)" if normalized else ""))
    return finite, norm, norms


def check_collapse(
    vectors: np.ndarray, dataset: str, *, ids: Sequence[Any] | None, usable: np.ndarray,
    sample_size: int, max_fraction: float, seed: int = 0,
) -> CheckResult:
    """Share of sampled vectors with a near-duplicate (cosine > 0.999) among the sample."""
    rows = np.flatnonzero(usable)
    rows = rows[_sample_rows(len(rows), sample_size, seed)]
    if len(rows) < 2:
        return CheckResult("collapse", dataset, PASS, {"sampled": len(rows)}, "too few vectors to judge")
    sample = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    faiss.normalize_L2(sample)
    index = faiss.IndexFlatIP(sample.shape[1])
    index.add(sample)
    scores, neighbours = index.search(sample, 2)
    # the best hit is normally the vector itself; with exact duplicates it may be its twin
    own = neighbours[:, 0] == np.arange(len(rows))
    nearest = np.where(own, scores[:, 1], scores[:, 0])
    partner = np.where(own, neighbours[:, 1], neighbours[:, 0])
    dup = nearest > DUPLICATE_COSINE
    fraction = float(dup.mean())
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(rows), 1000), rng.integers(0, len(rows), 1000)
    keep = a != b
    mean_pair = float(np.einsum("ij,ij->i", sample[a[keep]], sample[b[keep]]).mean()) if keep.any() else None
    metrics = {"sampled": len(rows), "near_duplicate_fraction": round(fraction, 6),
               "max_fraction": max_fraction, "mean_random_pair_cosine": mean_pair}
    if fraction > max_fraction:
        first = int(np.flatnonzero(dup)[0])
        example = _example(vectors, ids, int(rows[first]), nearest_id=_id_of(ids, int(rows[partner[first]])),
                           cosine=float(nearest[first]))
        return CheckResult(
            "collapse", dataset, FAIL, metrics,
            f"{fraction:.1%} of {len(rows)} sampled vectors have a near-duplicate (cosine > {DUPLICATE_COSINE}); "
            f"limit {max_fraction:.1%}: the embeddings look collapsed",
            example,
        )
    return CheckResult("collapse", dataset, PASS, metrics,
                       f"{fraction:.1%} of {len(rows)} sampled vectors have a near-duplicate (limit {max_fraction:.1%})")


def check_embeddings(
    vectors: np.ndarray,
    *,
    ids: Sequence[Any] | None = None,
    expected_dim: int | None = None,
    normalized: bool | None = None,
    sample_size: int = 2000,
    max_duplicate_fraction: float = 0.05,
    dataset: str = "embeddings",
) -> list[CheckResult]:
    """All embedding checks (see the module docstring)."""
    dim = check_dimension(vectors, dataset, expected_dim=expected_dim, ids=ids)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        return [dim]
    finite, norm, norms = check_finite_and_norm(vectors, dataset, ids=ids, normalized=normalized)
    usable = np.isfinite(norms) & (norms >= ZERO_NORM)
    collapse = check_collapse(vectors, dataset, ids=ids, usable=usable, sample_size=sample_size,
                              max_fraction=max_duplicate_fraction)
    return [dim, finite, norm, collapse]


# --------------------------------------------------------------------------- index
def _labels(found: Any) -> np.ndarray:
    """``search`` may return faiss's ``(distances, labels)`` or just the labels."""
    if isinstance(found, tuple):
        found = found[1]
    return np.asarray(found)


def _prepared(block: np.ndarray, metric: Metric) -> np.ndarray:
    out = np.array(block, dtype=np.float32, order="C", copy=True)
    if metric == "cosine":
        faiss.normalize_L2(out)
    return out


def exact_scores(vectors: np.ndarray, queries: np.ndarray, k: int, metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k (scores, positions); scores are "higher is closer" for every metric."""
    dim = vectors.shape[1]
    index = faiss.IndexFlatL2(dim) if metric == "l2" else faiss.IndexFlatIP(dim)
    for start in range(0, vectors.shape[0], BLOCK_ROWS):
        index.add(_prepared(vectors[start : start + BLOCK_ROWS], metric))
    distances, positions = index.search(_prepared(queries, metric), k)
    return (-distances if metric == "l2" else distances), positions


def check_index(
    search: SearchFn,
    vectors: np.ndarray,
    *,
    ids: Sequence[Any] | None = None,
    index_size: int | None = None,
    k: int = 10,
    metric: Metric = "cosine",
    sample_size: int = 1000,
    recall_threshold: float = 0.9,
    dataset: str = "index",
    seed: int = 0,
) -> list[CheckResult]:
    """``index_size`` and ``recall`` checks (see the module docstring).

    ``search(queries, k)`` returns labels (or faiss's ``(distances, labels)``) of shape
    ``(len(queries), k)``: positions into ``vectors``, or values of ``ids`` when given.
    ``-1`` means "no result".
    """
    n = int(vectors.shape[0])
    results = []
    if index_size is not None:
        metrics: dict[str, Any] = {"index_size": int(index_size), "vectors": n}
        if int(index_size) != n:
            results.append(CheckResult("index_size", dataset, FAIL, metrics,
                                       f"the index holds {index_size} vectors, the embeddings {n}",
                                       {"index_size": int(index_size), "vectors": n}))
        else:
            results.append(CheckResult("index_size", dataset, PASS, metrics, f"{n} vectors, as many as the embeddings"))
    if n == 0:
        results.append(CheckResult("recall", dataset, FAIL, {"vectors": 0}, "no vectors to search", {"vectors": 0}))
        return results
    k = min(k, n)
    rows = _sample_rows(n, sample_size, seed)
    queries = _prepared(vectors[rows], metric)
    exact, _ = exact_scores(vectors, queries, k, metric)
    labels = _labels(search(queries, k))[:, :k]
    if ids is not None:
        position_of = {v: i for i, v in enumerate(ids)}
        positions = np.vectorize(lambda v: position_of.get(v, -1), otypes=[np.int64])(labels)
    else:
        positions = labels.astype(np.int64)
    valid = (positions >= 0) & (positions < n)
    safe = np.where(valid, positions, 0)
    neighbours = _prepared(vectors[safe.ravel()], metric).reshape(len(rows), k, -1)
    if metric != "l2":
        returned = np.einsum("qd,qkd->qk", queries, neighbours)
    else:
        returned = -((queries[:, None, :] - neighbours) ** 2).sum(-1)
    kth = exact[:, k - 1 : k]
    hits = valid & (returned >= kth - TIE_TOLERANCE * np.maximum(1.0, np.abs(kth)))
    # a label returned twice is one neighbour, not two
    for q in range(len(rows)):
        _, first = np.unique(positions[q], return_index=True)
        duplicate = np.ones(k, dtype=bool)
        duplicate[first] = False
        hits[q] &= ~duplicate
    per_query = hits.sum(axis=1) / k
    recall = float(per_query.mean())
    metrics = {f"recall_at_{k}": round(recall, 6), "k": k, "queries": len(rows), "threshold": recall_threshold,
               "metric": metric, "worst_query_recall": float(per_query.min())}
    if recall < recall_threshold:
        worst = int(np.argmin(per_query))
        example = {"query_row": int(rows[worst]), "query_id": _id_of(ids, int(rows[worst])),
                   "recall": float(per_query[worst]), "returned": [_id_of(ids, int(p)) if p >= 0 else None for p in positions[worst]]}
        results.append(CheckResult("recall", dataset, FAIL, metrics,
                                   f"recall@{k} is {recall:.3f} on {len(rows)} sampled queries, below the threshold {recall_threshold}",
                                   example))
    else:
        results.append(CheckResult("recall", dataset, PASS, metrics,
                                   f"recall@{k} is {recall:.3f} on {len(rows)} sampled queries (threshold {recall_threshold})"))
    return results
