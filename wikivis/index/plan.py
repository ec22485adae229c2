"""Pick a faiss index for ``n`` vectors of dimension ``d`` under a memory and latency budget.

Pure arithmetic (no faiss import), in the spirit of autofaiss's ``get_optimal_index_keys_v2``
(criteo/autofaiss, ``external/optimize.py``), adapted to what we measured on 2 cores:

1. **Flat** (exact) when ``n ≤ 1000`` or a brute-force scan of ``4·n·d`` bytes fits the latency
   budget at :data:`FLAT_SCAN_BYTES_PER_MS` (a single-thread scan here runs at ≈3 GB/s).
2. **HNSW32,Flat** for medium ``n`` (``≤ hnsw_max_n``) when ``4·n·(d + 2·32)`` bytes fit the
   memory budget (vectors plus the level-0 graph, autofaiss's formula).  HNSW has the best
   recall per microsecond, but its build is insertion bound: 100k × 256-d took 54–200 s on the
   2 shared cores here, against 12 s for IVF1024 with the same p50 (0.41 vs 0.43 ms) and
   recall@10 0.98 vs 0.96 — so it stops at :data:`HNSW_MAX_N` by default.
3. **IVF{nlist}_HNSW32,Flat** beyond that while the raw vectors fit: a k-means coarse
   quantizer (searched with a small HNSW over the centroids) and exact distances inside the
   probed lists; trains on ~50 points per centroid and builds 1M vectors in well under a
   minute.  ``nlist ≈ 4·√n`` rounded to a power of two (autofaiss's rule), at most ``n/39``
   (k-means needs ~39 points per centroid).
4. **IVF{nlist}_HNSW32,PQ{m}x8** when even the vectors do not fit: ``m`` bytes per vector, the
   largest divisor of ``d`` that fits the budget, at most ``d/4`` (4 dimensions per byte:
   more buys little once results are re-ranked); results are re-ranked exactly from the
   normalised vectors kept memory-mapped on disk (``rerank`` × k candidates), which brings
   PQ's recall back (0.78 → 1.0 on embedding-like data in our measurements).  ``nlist`` is
   capped at :data:`PQ_MAX_NLIST`: k-means costs ~39·nlist² distance rows, which on 2 cores
   is ~1 min at 4096 lists and ~20 min at 16384.
5. **The same IVF-PQ with on-disk inverted lists** (``on_disk``) when the codes do not fit
   next to the build's working set: the index is trained once on a sample, the vectors are
   added in chunks (:func:`add_chunk_rows`) to per-chunk indexes written to disk and merged into
   one ``OnDiskInvertedLists`` file (faiss ``merge_ondisk``), which is memory-mapped at search
   time (the OS page cache keeps the hot lists).  RAM then holds the coarse quantizer, the
   training sample and one chunk; disk holds ``n·(m + 8)`` bytes of lists and ``4·n·d`` of
   re-rank vectors.  The chunks are independent, so they can be added on different workers
   (docs/benchmarks.md, the 100M extrapolation).

``memory_mb`` is the estimated RAM: for ``flat``/``hnsw``/``ivf_flat`` the index itself
(which holds every vector); for ``ivf_pq`` beyond one add chunk the resident codes plus the
chunked build's working set (training sample, one chunk), for on-disk lists the working set
alone; ``disk_mb`` is what the on-disk lists take, beside the re-rank vectors.

All indexes use inner product on L2-normalised vectors (= cosine similarity).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from wikivis.errors import ConfigError

#: brute-force scan speed assumed for the Flat latency estimate (bytes per millisecond)
FLAT_SCAN_BYTES_PER_MS = 3_000_000
#: Flat is always fine below this many vectors
FLAT_ALWAYS_N = 1_000
#: HNSW build time grows ~linearly; above this an IVF index is built instead (see above)
HNSW_MAX_N = 50_000
HNSW_M = 32
#: candidates re-ranked exactly per requested neighbour for PQ indexes
PQ_RERANK = 10
#: the most inverted lists of a PQ index (k-means training cost, see the module docstring)
PQ_MAX_NLIST = 4096
#: bytes of float32 vectors per add chunk of a PQ build (faiss holds about as much again
#: in residuals while encoding a chunk)
ADD_CHUNK_BYTES = 64 << 20
#: k-means training points per IVF list (mirrors wikivis.index.core.TRAIN_POINTS_PER_LIST)
TRAIN_POINTS_PER_LIST = 50
#: fewest vectors trained on (PQ codebooks need a few thousand points per sub-quantizer)
TRAIN_MIN_POINTS = 10_000


@dataclass(frozen=True)
class IndexPlan:
    kind: str  # flat | hnsw | ivf_flat | ivf_pq
    key: str  # faiss index_factory string
    n: int
    dim: int
    memory_mb: float  # estimated RAM of the index
    nlist: int = 0
    pq_m: int = 0
    rerank: int = 0  # 0: none; else re-rank rerank·k candidates from the stored vectors
    reason: str = ""
    on_disk: bool = False  # inverted lists in a memory-mapped file (IVF-PQ only)
    disk_mb: float = 0.0  # index bytes on disk (lists), beside the re-rank vectors

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: inverted lists per √n (autofaiss uses 4)
NLIST_PER_SQRT_N = 4.0


def ivf_nlist(n: int) -> int:
    """Number of inverted lists: ≈4·√n as a power of two, between 16 and 65536, ≤ n/39."""
    target = NLIST_PER_SQRT_N * math.sqrt(max(n, 1))
    nlist = 1 << max(4, round(math.log2(target)))
    while nlist > 16 and nlist * 39 > n:
        nlist //= 2
    return min(nlist, 65_536)


def _mb(nbytes: float) -> float:
    return round(nbytes / 2**20, 1)


def plan_index(
    n: int,
    dim: int,
    *,
    memory_budget_mb: float,
    latency_budget_ms: float,
    hnsw_max_n: int = HNSW_MAX_N,
) -> IndexPlan:
    """The index for ``n`` × ``dim`` vectors under the budgets (see the module docstring)."""
    if n < 1 or dim < 1:
        raise ConfigError(f"cannot plan an index for {n} vectors of dimension {dim}")
    budget = memory_budget_mb * 2**20
    flat_bytes = 4.0 * n * dim
    flat_ms = flat_bytes / FLAT_SCAN_BYTES_PER_MS
    if flat_bytes <= budget and (n <= FLAT_ALWAYS_N or flat_ms <= latency_budget_ms):
        why = (
            f"n={n} ≤ {FLAT_ALWAYS_N}"
            if n <= FLAT_ALWAYS_N
            else f"exact scan ≈{flat_ms:.2f} ms ≤ {latency_budget_ms} ms"
        )
        return IndexPlan("flat", "Flat", n, dim, _mb(flat_bytes), reason=why)

    hnsw_bytes = 4.0 * n * (dim + 2 * HNSW_M)
    if n <= hnsw_max_n and hnsw_bytes <= budget:
        return IndexPlan(
            "hnsw",
            f"HNSW{HNSW_M},Flat",
            n,
            dim,
            _mb(hnsw_bytes),
            reason=f"exact scan ≈{flat_ms:.1f} ms > {latency_budget_ms} ms; HNSW fits {memory_budget_mb} MB",
        )

    nlist = ivf_nlist(n)
    quantizer_bytes = 4.0 * nlist * (dim + 2 * HNSW_M)
    ivf_flat_bytes = flat_bytes + 8.0 * n + quantizer_bytes
    if ivf_flat_bytes <= budget:
        why = f"n={n} > {hnsw_max_n} (HNSW build too slow)" if n > hnsw_max_n else "HNSW graph exceeds the budget"
        return IndexPlan(
            "ivf_flat", f"IVF{nlist}_HNSW{HNSW_M},Flat", n, dim, _mb(ivf_flat_bytes), nlist=nlist, reason=why
        )

    return plan_pq(n, dim, memory_budget_mb=memory_budget_mb, flat_mb=_mb(flat_bytes))


def add_chunk_rows(dim: int) -> int:
    """Vectors per add chunk of a chunked build: :data:`ADD_CHUNK_BYTES` of float32."""
    return max(1_000, ADD_CHUNK_BYTES // (4 * dim))


def train_points(n: int, nlist: int) -> int:
    """Vectors an IVF index is trained on: ~50 per list, at least :data:`TRAIN_MIN_POINTS`."""
    return min(n, max(nlist * TRAIN_POINTS_PER_LIST, TRAIN_MIN_POINTS))


def plan_pq(n: int, dim: int, *, memory_budget_mb: float, flat_mb: float | None = None) -> IndexPlan:
    """IVF-PQ for ``n`` × ``dim`` within ``memory_budget_mb``: codes in RAM when they fit next
    to the build's working set, else on-disk inverted lists (module docstring, items 4–5).

    :raises ConfigError: not even the on-disk build's working set fits the budget.
    """
    budget = memory_budget_mb * 2**20
    nlist = min(ivf_nlist(n), PQ_MAX_NLIST)
    quantizer_bytes = 4.0 * nlist * (dim + 2 * HNSW_M)
    per_vector_budget = (budget - quantizer_bytes) / n - 8  # 8 bytes of id per vector
    divisors = [m for m in range(1, dim + 1) if dim % m == 0 and m <= min(per_vector_budget, 256, max(4, dim // 4))]
    # in RAM only with at least d/8 bytes per vector: fewer codes than that lose too much
    # recall for the re-rank to win back, and on disk the d/4 of a quality PQ cost no RAM
    fits_in_ram = bool(divisors) and divisors[-1] >= max(4, dim // 8)
    m = divisors[-1] if fits_in_ram else 0
    chunk = min(n, add_chunk_rows(dim))
    # the training sample (float32) and one add chunk: its vectors, its codes + ids, and the
    # residuals faiss computes while encoding (another float32 block)
    working = 4.0 * dim * train_points(n, nlist) + chunk * (8.0 * dim + m + 8) + quantizer_bytes
    codes = n * (m + 8.0)
    raw = f"raw vectors ({flat_mb if flat_mb is not None else _mb(4.0 * n * dim)} MB)"
    key = f"IVF{nlist}_HNSW{HNSW_M},PQ{m}x8"
    # a collection of at most one add chunk is built in one piece: its working set is the
    # vectors the build already holds, and the budget is the index's own memory
    in_ram = codes + quantizer_bytes if n <= chunk else codes + working
    if fits_in_ram and in_ram <= budget:
        return IndexPlan("ivf_pq", key, n, dim, _mb(in_ram), nlist=nlist, pq_m=m, rerank=PQ_RERANK,
                         reason=f"{raw} exceed the budget; PQ{m} + exact re-rank")
    # on disk the codes cost disk, not RAM: take the d/4 bytes per vector of a quality PQ
    m = max(d for d in range(1, dim + 1) if dim % d == 0 and d <= max(4, dim // 4))
    codes = n * (m + 8.0)
    working = 4.0 * dim * train_points(n, nlist) + chunk * (8.0 * dim + m + 8) + quantizer_bytes
    key = f"IVF{nlist}_HNSW{HNSW_M},PQ{m}x8"
    if working > budget or m < 4:
        raise ConfigError(
            f"{n} vectors of dimension {dim} do not fit index_memory_budget_mb={memory_budget_mb}: even an IVF-PQ "
            f"build with on-disk lists needs {_mb(working)} MB (training sample and one add chunk); raise the budget"
        )
    return IndexPlan(
        "ivf_pq", key, n, dim, _mb(working), nlist=nlist, pq_m=m, rerank=PQ_RERANK, on_disk=True, disk_mb=_mb(codes),
        reason=f"{raw} and the PQ{m} codes ({_mb(codes)} MB) exceed the budget; on-disk inverted lists + exact re-rank",
    )


def kind_of_key(key: str) -> str:
    """The plan kind of a faiss factory string (for explicitly requested keys)."""
    k = key.replace(" ", "")
    if k.startswith(("OPQ", "PCA")) or ",PQ" in k or k.startswith("PQ"):
        return "ivf_pq" if "IVF" in k else "pq"
    if "IVF" in k:
        return "ivf_flat" if k.endswith(",Flat") else "ivf_other"
    if k.startswith("HNSW"):
        return "hnsw"
    if k == "Flat":
        return "flat"
    return "other"


def plan_for_key(key: str, n: int, dim: int, rerank: int | None = None) -> IndexPlan:
    """A plan for an explicitly requested factory string (tests, experts)."""
    kind = kind_of_key(key)
    nlist = 0
    for part in key.split(","):
        if part.startswith("IVF"):
            digits = "".join(ch for ch in part[3:].split("_")[0] if ch.isdigit())
            nlist = int(digits) if digits else 0
    return IndexPlan(
        kind,
        key,
        n,
        dim,
        0.0,
        nlist=nlist,
        rerank=PQ_RERANK if rerank is None and kind.endswith("pq") else (rerank or 0),
        reason="requested",
    )
