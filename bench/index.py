"""Index benchmark: build time, single-query latency and recall@10 vs exact faiss search.

Usage::

    python bench/index.py [--sizes 100000,1000000] [--dim 256] [--queries 1000]
                          [--memory-budget-mb 4096] [--latency-budget-ms 1.0] [--threshold 0.95]

For each size the index that :func:`wikivis.index.plan.plan_index` picks under the budgets
is built with the library's own code (:mod:`wikivis.index.core`), its search parameters are
tuned to the recall threshold on half of the held-out queries, and recall@10 and the
single-query latency (p50/p95) are measured on the other half — next to an exact
``IndexFlatIP`` search over the same vectors in the same run (the baseline).

Data (embedding-like, because i.i.d. Gaussian vectors understate ANN recall badly):
``clusters`` centres in a ``latent``-dim space (N(0, I)), points = centre + ``spread``·N(0, I)
in the latent space (spread 1.0: neighbouring clusters overlap, so IVF cells cut through them), projected to ``dim`` with a fixed random Gaussian matrix, plus 0.05·N(0, I)
isotropic noise in ``dim``, then L2-normalised.  Queries are fresh points of the same
distribution (not in the collection).  Generated in chunks; 1M × 256 is 1 GiB of float32.

The last line is one JSON object: keys for the largest size (n, recall_at_10, p50_ms,
p95_ms, build_s, exact_p50_ms, speedup_vs_exact) plus ``sizes`` with every size's figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as wikivis.index.core does (shared cores)

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faiss

from bench._common import emit, peak_rss_mb, say, timer
from wikivis.index import core
from wikivis.index.plan import HNSW_MAX_N, plan_index


def embedding_like(
    n: int, dim: int, *, clusters: int, latent: int, spread: float, seed: int, chunk: int = 100_000
) -> np.ndarray:
    """``n`` clustered, projected, normalised vectors (see the module docstring)."""
    structure = np.random.default_rng(12345)  # same clusters and projection for every call
    centres = structure.standard_normal((clusters, latent)).astype(np.float32)
    projection = (structure.standard_normal((latent, dim)) / np.sqrt(latent)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        points = centres[rng.integers(0, clusters, m)] + spread * rng.standard_normal((m, latent), dtype=np.float32)
        block = points @ projection + 0.05 * rng.standard_normal((m, dim), dtype=np.float32)
        out[start : start + m] = block
    return core.normalize(out, copy=False)


def run_size(n: int, args: argparse.Namespace) -> dict[str, float | int | str]:
    say(f"--- n={n:,} dim={args.dim}")
    with timer() as t:
        vectors = embedding_like(n, args.dim, clusters=args.clusters, latent=args.latent, spread=args.spread, seed=1)
        queries = embedding_like(
            args.queries, args.dim, clusters=args.clusters, latent=args.latent, spread=args.spread, seed=2
        )
    say(f"data generated in {t['s']:.1f} s")

    flat = faiss.IndexFlatIP(args.dim)
    core.add_in_chunks(flat, vectors)
    with timer() as t:
        _, truth = flat.search(queries, 10)
    say(f"exact ground truth for {args.queries} queries: {t['s']:.1f} s")
    sample = core.RecallSample(queries, truth, 10)
    tune_sample, gate_sample = sample.split()
    latency_queries = gate_sample.queries[: args.latency_queries]
    exact_p50, exact_p95 = core.latency_ms(flat.search, latency_queries[: max(20, args.latency_queries // 5)], 10)
    say(f"exact IndexFlatIP single query: p50 {exact_p50:.2f} ms, p95 {exact_p95:.2f} ms")
    del flat

    plan = plan_index(
        n,
        args.dim,
        memory_budget_mb=args.memory_budget_mb,
        latency_budget_ms=args.latency_budget_ms,
        hnsw_max_n=args.hnsw_max_n,
    )
    say(f"plan: {plan.key} ({plan.reason}); est. {plan.memory_mb} MB")
    index = core.make_index(plan)
    with timer() as build:
        core.train_and_add(index, vectors)
    say(f"build (train + add): {build['s']:.1f} s")
    with timer() as tune_t:
        tuning = core.tune(index, plan, vectors, tune_sample, min(0.999, args.threshold + 0.01))
    say(f"tuned in {tune_t['s']:.1f} s: {tuning.params} (tried {[(p, round(r, 3)) for p, r in tuning.tried]})")

    def search_fn(q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return core.search(index, q, k, rerank=plan.rerank, vectors=vectors)

    recall = gate_sample.recall(search_fn, index.ntotal)
    p50, p95 = core.latency_ms(search_fn, latency_queries, 10, repeats=2)
    with timer() as batch_t:
        search_fn(gate_sample.queries, 10)
    say(
        f"recall@10 {recall:.4f}; single query p50 {p50:.3f} ms, p95 {p95:.3f} ms; "
        f"batch of {len(gate_sample)}: {batch_t['s'] * 1000:.0f} ms; peak RSS {peak_rss_mb():.0f} MB"
    )
    return {
        "n": n,
        "dim": args.dim,
        "index": plan.key,
        "params": str(tuning.params),
        "recall_at_10": round(recall, 4),
        "p50_ms": round(p50, 4),
        "p95_ms": round(p95, 4),
        "build_s": round(build["s"], 2),
        "tune_s": round(tune_t["s"], 2),
        "exact_p50_ms": round(exact_p50, 3),
        "exact_p95_ms": round(exact_p95, 3),
        "speedup_vs_exact": round(exact_p50 / p50, 1) if p50 else 0.0,
        "batch_qps": round(len(gate_sample) / batch_t["s"], 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated collection sizes")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--latent", type=int, default=48)
    ap.add_argument("--spread", type=float, default=1.0, help="within-cluster std in the latent space")
    ap.add_argument("--queries", type=int, default=1000, help="held-out queries (half tune, half measure)")
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--memory-budget-mb", type=float, default=4096)
    ap.add_argument("--latency-budget-ms", type=float, default=1.0)
    ap.add_argument("--hnsw-max-n", type=int, default=HNSW_MAX_N, help="largest n built as HNSW (above: IVF)")
    ap.add_argument("--threshold", type=float, default=0.95, help="recall@10 the tuning aims for")
    ap.add_argument("--threads", type=int, default=0, help="faiss OpenMP threads (0 = default)")
    args = ap.parse_args(argv)
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    say(
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )
    started = time.perf_counter()
    rows = [run_size(int(s), args) for s in args.sizes.split(",") if s.strip()]
    largest = rows[-1]
    emit(
        {
            "bench": "index",
            **{
                k: largest[k]
                for k in (
                    "n",
                    "dim",
                    "index",
                    "recall_at_10",
                    "p50_ms",
                    "p95_ms",
                    "build_s",
                    "exact_p50_ms",
                    "speedup_vs_exact",
                )
            },
            "sizes": rows,
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "total_s": round(time.perf_counter() - started, 1),
        }
    )


if __name__ == "__main__":
    main()
