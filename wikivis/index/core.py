"""In-memory faiss work: build, search (with optional exact re-rank), recall, tuning, latency.

Everything here works on NumPy arrays and faiss objects; :mod:`wikivis.index.store` puts the
results on disk.  Vectors are L2-normalised float32 and every index uses inner product.

Recall is measured *leave-one-out*: the queries are vectors of the collection itself, and the
query's own position is removed from both the exact and the approximate result lists before
comparing the top k, so an index gets no free hit for finding the query itself.  recall@k is
``|approx top-k ∩ exact top-k| / k`` averaged over queries (autofaiss's ``score_index``).

Search parameters (``efSearch`` for HNSW, ``nprobe`` / ``quantizer_efSearch`` for IVF) are
tuned on one query sample to the smallest value whose recall reaches the target; the gate is
then measured on a *different* sample, so tuning cannot overfit the gate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from wikivis.index.plan import IndexPlan
from wikivis.vocab import staged_path

HNSW_EF_CONSTRUCTION = 80
#: k-means training points per IVF centroid (faiss warns below 39)
TRAIN_POINTS_PER_LIST = 50
KMEANS_ITERATIONS = 10

EF_SEARCH_GRID = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
NPROBE_GRID = (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)

SearchFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def normalize(vectors: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """Row-wise L2 normalisation to contiguous float32 (zero rows stay zero)."""
    out = np.array(vectors, dtype=np.float32, copy=copy, order="C")
    if out.ndim == 1:
        out = out.reshape(1, -1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def make_index(plan: IndexPlan) -> faiss.Index:
    index = faiss.index_factory(plan.dim, plan.key, faiss.METRIC_INNER_PRODUCT)
    hnsw = _hnsw_of(index)
    if hnsw is not None:
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    ivf = _ivf_of(index)
    if ivf is not None:
        ivf.cp.niter = KMEANS_ITERATIONS
        ivf.cp.seed = 1234
        ivf.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
        ivf = faiss.downcast_index(ivf)  # the concrete IVF class (IndexIVFPQ has more knobs)
        if hasattr(ivf, "do_polysemous_training"):
            # index_factory turns on polysemous training for IVF-PQ: an annealing search over
            # code permutations that takes minutes and only helps Hamming-distance filtering,
            # which we do not use (we re-rank exactly instead)
            ivf.do_polysemous_training = False
        quantizer_hnsw = _hnsw_of(ivf.quantizer)  # type: ignore[attr-defined]
        if quantizer_hnsw is not None:
            quantizer_hnsw.efConstruction = 40
    return index


def _hnsw_of(index: faiss.Index) -> Any:
    try:
        return faiss.downcast_index(index).hnsw  # type: ignore[attr-defined]
    except AttributeError:
        return None


def _ivf_of(index: faiss.Index) -> Any:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def train_and_add(index: faiss.Index, vectors: np.ndarray, *, seed: int = 0) -> None:
    """Train (on a seeded sample of ~50 points per IVF list) and add ``vectors`` in order."""
    if not index.is_trained:
        ivf = _ivf_of(index)
        n_train = len(vectors)
        if ivf is not None:
            n_train = min(len(vectors), max(ivf.nlist * TRAIN_POINTS_PER_LIST, 10_000))
        rng = np.random.default_rng(seed)
        sample = (
            vectors if n_train >= len(vectors) else vectors[np.sort(rng.choice(len(vectors), n_train, replace=False))]
        )
        index.train(np.ascontiguousarray(sample))
    add_in_chunks(index, vectors)


def add_in_chunks(index: faiss.Index, vectors: np.ndarray, chunk: int = 100_000) -> None:
    for start in range(0, len(vectors), chunk):
        index.add(np.ascontiguousarray(vectors[start : start + chunk]))


#: add chunks per block index of an on-disk build (a block's codes stay in RAM until written)
BLOCK_CHUNKS = 8


def build_in_chunks(
    plan: IndexPlan, vectors: np.ndarray | VectorFile, *, workdir: Path | None = None, seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> faiss.Index:
    """Train on a seeded sample and add ``vectors`` chunk by chunk, never copying more than a
    chunk: ``vectors`` may be a memory-mapped file far larger than RAM (normalised float32).

    With ``plan.on_disk`` (IVF-PQ) the chunks are added to block indexes of
    :data:`BLOCK_CHUNKS` chunks each, written to ``workdir``, and merged into one
    ``OnDiskInvertedLists`` file, ``workdir/lists.ivfdata`` (faiss ``merge_ondisk``), which the
    returned index memory-maps; the block files are removed.  Positions are the row numbers
    of ``vectors`` either way.  A block is independent of the others once the index is
    trained, which is what lets a build spread over workers (docs/benchmarks.md)."""
    from wikivis.index.plan import add_chunk_rows, train_points

    say = progress or (lambda _msg: None)
    n = len(vectors)
    index = make_index(plan)
    ivf = _ivf_of(index)
    rng = np.random.default_rng(seed)
    n_train = train_points(n, ivf.nlist) if ivf is not None else n
    rows = np.arange(n) if n_train >= n else np.sort(rng.choice(n, n_train, replace=False))
    started = time.perf_counter()
    sample = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    index.train(sample)
    del sample
    say(f"trained on {n_train:,} vectors in {time.perf_counter() - started:.1f} s")
    chunk = add_chunk_rows(plan.dim)
    if not plan.on_disk:
        for start in range(0, n, chunk):
            index.add(np.ascontiguousarray(vectors[start : start + chunk], dtype=np.float32))
        return index
    if workdir is None or ivf is None:
        raise ValueError("an on-disk build needs an IVF plan and a work directory")
    from faiss.contrib.ondisk import merge_ondisk

    workdir.mkdir(parents=True, exist_ok=True)
    trained = workdir / "trained.faiss"
    faiss.write_index(index, str(trained))
    blocks: list[Path] = []
    block_rows = chunk * BLOCK_CHUNKS
    try:
        for b, block_start in enumerate(range(0, n, block_rows)):
            block = faiss.read_index(str(trained))
            for start in range(block_start, min(n, block_start + block_rows), chunk):
                part = np.ascontiguousarray(vectors[start : min(n, start + chunk, block_start + block_rows)],
                                            dtype=np.float32)
                block.add_with_ids(part, np.arange(start, start + len(part), dtype=np.int64))
            path = workdir / f"block-{b:05d}.faiss"
            faiss.write_index(block, str(path))
            blocks.append(path)
            del block
            say(f"block {b}: {min(n, block_start + block_rows):,} of {n:,} added")
        merge_ondisk(index, [str(p) for p in blocks], str(workdir / "lists.ivfdata"))
    finally:
        for path in [*blocks, trained]:
            path.unlink(missing_ok=True)
    return index


def exact_top_k_streamed(vectors: Any, queries: np.ndarray, k: int, chunk: int = 65_536) -> np.ndarray:
    """Exact inner-product top-``k`` positions of ``queries`` over ``vectors`` (an array or a
    :class:`VectorFile`), one chunk at a time: one BLAS product per chunk, merged."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(0, len(vectors), chunk):
        block = np.asarray(vectors[start : start + chunk], dtype=np.float32)
        scores = queries @ block.T
        kk = min(k, len(block))
        idx = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        all_s = np.concatenate([best_s, np.take_along_axis(scores, idx, 1)], axis=1)
        all_i = np.concatenate([best_i, idx + start], axis=1)
        order = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(all_s, order, 1), np.take_along_axis(all_i, order, 1)
    return best_i


def set_params(index: faiss.Index, params: dict[str, int]) -> None:
    space = faiss.ParameterSpace()
    for name, value in params.items():
        space.set_index_parameter(index, name, value)


def candidate_grid(plan: IndexPlan) -> list[dict[str, int]]:
    """Search-parameter settings in increasing cost order."""
    if plan.kind == "hnsw":
        return [{"efSearch": ef} for ef in EF_SEARCH_GRID]
    if plan.nlist:
        return [
            {"nprobe": p, "quantizer_efSearch": max(2 * p, 64)} if "HNSW" in plan.key else {"nprobe": p}
            for p in NPROBE_GRID
            if p <= plan.nlist
        ]
    return [{}]


def search(
    index: faiss.Index, queries: np.ndarray, k: int, *, rerank: int = 0, vectors: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, positions); with ``rerank`` the ``rerank·k`` candidates are re-scored
    exactly against ``vectors`` (memory-mapped on disk for big collections)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if not rerank or vectors is None:
        return index.search(queries, k)
    k_candidates = min(max(k * rerank, k), index.ntotal)
    _, candidates = index.search(queries, k_candidates)
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    positions = np.full((len(queries), k), -1, dtype=np.int64)
    for row, (query, cand) in enumerate(zip(queries, candidates, strict=True)):
        cand = cand[cand >= 0]
        if not len(cand):
            continue
        order = np.argsort(cand)  # sorted reads are kinder to a memory-mapped file
        exact = np.asarray(vectors[cand[order]]) @ query
        top = np.argsort(-exact, kind="stable")[:k]
        scores[row, : len(top)] = exact[top]
        positions[row, : len(top)] = cand[order][top]
    return scores, positions


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    flat = faiss.IndexFlatIP(vectors.shape[1])
    add_in_chunks(flat, vectors)
    return flat.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def drop_self(positions: np.ndarray, query_positions: np.ndarray, k: int) -> np.ndarray:
    """Remove each query's own position from its result row and keep the first ``k``."""
    out = np.full((len(positions), k), -1, dtype=np.int64)
    for row, (found, own) in enumerate(zip(positions, query_positions, strict=True)):
        kept = found[(found != own) & (found >= 0)][:k]
        out[row, : len(kept)] = kept
    return out


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean ``|found[:k] ∩ truth[:k]| / k`` over rows (-1 padding ignored)."""
    if not len(truth):
        return 1.0
    hits = 0
    denominator = 0
    for f, t in zip(found[:, :k], truth[:, :k], strict=True):
        t_set = {int(x) for x in t if x >= 0}
        hits += len(t_set.intersection(int(x) for x in f if x >= 0))
        denominator += len(t_set)
    return hits / denominator if denominator else 1.0


@dataclass
class RecallSample:
    """Queries with their exact top-k positions.

    ``own`` holds each query's position in the collection for leave-one-out samples (queries
    drawn from the collection itself) and is ``None`` for held-out queries.
    """

    queries: np.ndarray
    truth: np.ndarray
    k: int
    own: np.ndarray | None = None

    @classmethod
    def from_collection(cls, vectors: np.ndarray, n_queries: int, k: int, rng: np.random.Generator) -> RecallSample:
        n = len(vectors)
        own = np.sort(rng.choice(n, min(n_queries, n), replace=False))
        rng.shuffle(own)  # split() must not give the tuning half all the low positions
        queries = np.ascontiguousarray(vectors[own], dtype=np.float32)
        _, found = exact_search(vectors, queries, min(k + 1, n))
        return cls(queries, drop_self(found, own, k), k, own)

    @classmethod
    def from_file(cls, vectors: Any, n_queries: int, k: int, rng: np.random.Generator) -> RecallSample:
        """:meth:`from_collection` over a collection too big for RAM (a :class:`VectorFile`):
        the exact top-k is streamed (:func:`exact_top_k_streamed`)."""
        n = len(vectors)
        own = np.sort(rng.choice(n, min(n_queries, n), replace=False))
        queries = np.ascontiguousarray(vectors[own], dtype=np.float32)
        order = rng.permutation(len(own))  # as from_collection: split() must not get all low positions
        own, queries = own[order], queries[order]
        found = exact_top_k_streamed(vectors, queries, min(k + 1, n))
        return cls(queries, drop_self(found, own, k), k, own)

    @classmethod
    def held_out(cls, vectors: np.ndarray, queries: np.ndarray, k: int) -> RecallSample:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        _, found = exact_search(vectors, queries, min(k, len(vectors)))
        return cls(queries, found, k)

    def __len__(self) -> int:
        return len(self.queries)

    def split(self) -> tuple[RecallSample, RecallSample]:
        h = len(self) // 2
        own = self.own
        return (
            RecallSample(self.queries[:h], self.truth[:h], self.k, None if own is None else own[:h]),
            RecallSample(self.queries[h:], self.truth[h:], self.k, None if own is None else own[h:]),
        )

    def recall(self, search_fn: SearchFn, n_total: int) -> float:
        """recall@k of ``search_fn`` over an index of ``n_total`` vectors."""
        if not len(self):
            return 1.0
        if self.own is None:
            _, found = search_fn(self.queries, min(self.k, n_total))
        else:
            _, found = search_fn(self.queries, min(self.k + 1, n_total))
            found = drop_self(found, self.own, self.k)
        return recall_at_k(found, self.truth, self.k)


@dataclass
class Tuning:
    params: dict[str, int]
    recall: float
    tried: list[tuple[dict[str, int], float]] = field(default_factory=list)


def tune(index: faiss.Index, plan: IndexPlan, vectors: np.ndarray, sample: RecallSample, target: float) -> Tuning:
    """Smallest search setting whose recall on ``sample`` reaches ``target`` (else the best seen)."""
    tried: list[tuple[dict[str, int], float]] = []
    best: tuple[dict[str, int], float] = ({}, -1.0)
    for params in candidate_grid(plan):
        set_params(index, params)
        rec = sample.recall(lambda q, k: search(index, q, k, rerank=plan.rerank, vectors=vectors), index.ntotal)
        tried.append((params, rec))
        if rec > best[1]:
            best = (params, rec)
        if rec >= target:
            break
    set_params(index, best[0])
    return Tuning(best[0], best[1], tried)


def latency_ms(search_fn: SearchFn, queries: np.ndarray, k: int, repeats: int = 1) -> tuple[float, float]:
    """(p50, p95) of single-query latency in milliseconds."""
    times: list[float] = []
    for _ in range(repeats):
        for q in queries:
            start = time.perf_counter()
            search_fn(q.reshape(1, -1), k)
            times.append((time.perf_counter() - start) * 1000)
    if not times:
        return 0.0, 0.0
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


class VectorFile:
    """Float32 rows of a ``.npy`` file, read by position with ordinary reads (``np.fromfile``
    at an offset), so a build over a file far larger than RAM holds only the rows it asked for
    — a memory map would count every page it touched in the process's RSS.  Supports what
    :func:`build_in_chunks` needs: ``len``, ``[start:stop]`` and ``[sorted row array]``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        mm = np.load(path, mmap_mode="r")
        if mm.dtype != np.float32 or mm.ndim != 2:
            raise ValueError(f"{path}: expected a 2-d float32 array, found {mm.dtype} {mm.shape}")
        self.shape: tuple[int, int] = (int(mm.shape[0]), int(mm.shape[1]))
        self.offset = int(mm.offset)
        del mm

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, fh: Any, start: int, stop: int) -> np.ndarray:
        dim = self.shape[1]
        fh.seek(self.offset + 4 * dim * start)
        return np.fromfile(fh, dtype=np.float32, count=(stop - start) * dim).reshape(-1, dim)

    def __getitem__(self, key: slice | np.ndarray) -> np.ndarray:
        with self.path.open("rb") as fh:
            if isinstance(key, slice):
                start, stop, step = key.indices(len(self))
                if step != 1:
                    raise ValueError("VectorFile slices must be contiguous")
                return self._read(fh, start, max(start, stop))
            rows = np.asarray(key, dtype=np.int64)
            out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
            for i, row in enumerate(rows):
                out[i] = self._read(fh, int(row), int(row) + 1)[0]
            return out


def write_vector_file(path: Path, n: int, dim: int, chunks: Any) -> None:
    """Write ``n`` × ``dim`` float32 rows from an iterable of blocks as a ``.npy`` file with
    ordinary writes (staged under a temporary name, then renamed)."""
    written = 0
    with staged_path(path) as tmp:
        with tmp.open("wb") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (n, dim)})
            for block in chunks:
                block = np.ascontiguousarray(block, dtype=np.float32)
                if block.ndim != 2 or block.shape[1] != dim:
                    raise ValueError(f"block of shape {block.shape} in a file of dimension {dim}")
                fh.write(block.tobytes())
                written += len(block)
        if written != n:
            raise ValueError(f"{written} rows written for a file of {n}")
