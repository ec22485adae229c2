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

Collections whose float32 vectors exceed ``--memory-budget-mb`` (e.g. ``--sizes 10000000
--memory-budget-mb 1024``) take the chunked path instead: the vectors are generated chunk by
chunk into a ``.npy`` file under ``var/bench-cache/index``, the planned IVF-PQ is built by
:func:`wikivis.index.core.build_in_chunks` (on-disk inverted lists when the plan says so), the
baseline is the exact top-10 streamed over the file, and the build's peak anonymous RSS is
reported against the budget.  ``--store-read 1000000,4000000`` instead measures the peak RSS of
an index build's read of the embedding store (``spool_embeddings``) against ``load_embeddings``.

The last line is one JSON object: keys for the largest size (n, recall_at_10, p50_ms,
p95_ms, build_s, exact_p50_ms, speedup_vs_exact) plus ``sizes`` with every size's figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as wikivis.index.core does (shared cores)

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faiss

from bench._common import cache_dir, emit, peak_rss_mb, say, timer
from wikivis.index import core
from wikivis.index.plan import HNSW_MAX_N, IndexPlan, plan_index


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


def embedding_chunks(n: int, dim: int, args: argparse.Namespace, seed: int, chunk: int = 100_000) -> Iterator[np.ndarray]:
    """The vectors of :func:`embedding_like`, one independent seeded chunk at a time (chunk
    ``i`` has its own seed), so 10M × 256 (9.8 GiB) never exists in RAM."""
    for i, start in enumerate(range(0, n, chunk)):
        yield embedding_like(min(chunk, n - start), dim, clusters=args.clusters, latent=args.latent,
                             spread=args.spread, seed=seed * 1_000_003 + i)


class AnonPeak:
    """Peak anonymous RSS (``RssAnon``: the process's own memory, not the page cache of the
    files it reads or maps), sampled every 50 ms in a thread."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def now_mb() -> float:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, self.now_mb())

    def reset(self) -> float:
        self.peak_mb = self.now_mb()
        return self.peak_mb


def run_chunked(n: int, args: argparse.Namespace, plan: IndexPlan) -> dict[str, float | int | str]:
    """A collection larger than the memory budget: vectors generated in chunks into a file on
    disk, the index built by :func:`wikivis.index.core.build_in_chunks` (on-disk inverted lists
    when the plan says so), ground truth by streaming the file (the baseline: exact search)."""
    anon = AnonPeak()
    work = cache_dir("index") / f"n{n}-d{args.dim}-c{args.clusters}-l{args.latent}-s{args.spread}"
    work.mkdir(parents=True, exist_ok=True)
    path = work / "vectors.npy"
    with timer() as t:
        if not path.is_file():
            core.write_vector_file(path, n, args.dim, embedding_chunks(n, args.dim, args, seed=1))
    vectors = core.VectorFile(path)
    queries = embedding_like(args.queries, args.dim, clusters=args.clusters, latent=args.latent, spread=args.spread,
                             seed=2)
    say(f"data: {n:,} × {args.dim} in {path} ({path.stat().st_size / 2**30:.1f} GiB), {t['s']:.1f} s")
    with timer() as t:
        truth = core.exact_top_k_streamed(vectors, queries, 10)
    exact_ms = t["s"] * 1000 / len(queries)
    say(f"exact ground truth, streamed: {t['s']:.1f} s for {len(queries)} queries = {exact_ms:.1f} ms per query")
    sample = core.RecallSample(queries, truth, 10)
    tune_sample, gate_sample = sample.split()
    base_anon = anon.reset()
    say(f"plan: {plan.key} on_disk={plan.on_disk} ({plan.reason}); est. {plan.memory_mb} MB RAM, {plan.disk_mb} MB lists")
    lists = work / "lists"
    shutil.rmtree(lists, ignore_errors=True)
    with timer() as build:
        index = core.build_in_chunks(plan, vectors, workdir=lists, progress=say)
    build_anon = anon.peak_mb
    say(f"build (train + add{' + merge_ondisk' if plan.on_disk else ''}): {build['s']:.1f} s; "
        f"peak anonymous RSS {build_anon:.0f} MB ({build_anon - base_anon:+.0f} MB over the {base_anon:.0f} MB before)")
    rerank_vectors = np.load(path, mmap_mode="r")  # the re-rank reads a few rows per query

    def search_fn(q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return core.search(index, q, k, rerank=plan.rerank, vectors=rerank_vectors)

    with timer() as tune_t:
        tuning = core.tune(index, plan, rerank_vectors, tune_sample, min(0.999, args.threshold + 0.01))
    say(f"tuned in {tune_t['s']:.1f} s: {tuning.params} (tried {[(p, round(r, 3)) for p, r in tuning.tried]})")
    recall = gate_sample.recall(search_fn, index.ntotal)
    p50, p95 = core.latency_ms(search_fn, gate_sample.queries, 10, repeats=2)
    disk_mb = sum(f.stat().st_size for f in lists.iterdir()) / 2**20 if lists.is_dir() else 0.0
    say(f"recall@10 {recall:.4f}; single query p50 {p50:.3f} ms, p95 {p95:.3f} ms "
        f"({exact_ms / p50:.0f}× faster than the streamed exact search per query); lists on disk {disk_mb:.0f} MB; "
        f"peak anonymous RSS {anon.peak_mb:.0f} MB, peak RSS incl. mapped pages {peak_rss_mb():.0f} MB")
    return {
        "n": n, "dim": args.dim, "index": plan.key, "on_disk": plan.on_disk, "params": str(tuning.params),
        "recall_at_10": round(recall, 4), "p50_ms": round(p50, 4), "p95_ms": round(p95, 4),
        "build_s": round(build["s"], 2), "tune_s": round(tune_t["s"], 2),
        "exact_p50_ms": round(exact_ms, 3), "exact_is": "streamed batch, per query",
        "speedup_vs_exact": round(exact_ms / p50, 1) if p50 else 0.0,
        "plan_memory_mb": plan.memory_mb, "plan_disk_mb": plan.disk_mb, "lists_disk_mb": round(disk_mb, 1),
        "memory_budget_mb": args.memory_budget_mb,
        "build_peak_anon_rss_mb": round(build_anon, 1), "before_build_anon_rss_mb": round(base_anon, 1),
        "within_budget": build_anon - base_anon <= args.memory_budget_mb,
    }


def run_size(n: int, args: argparse.Namespace) -> dict[str, float | int | str]:
    plan = plan_index(n, args.dim, memory_budget_mb=args.memory_budget_mb, latency_budget_ms=args.latency_budget_ms,
                      hnsw_max_n=args.hnsw_max_n)
    if plan.kind == "ivf_pq" and 4 * n * args.dim > args.memory_budget_mb * 2**20:
        return run_chunked(n, args, plan)
    return run_in_ram(n, args)


def run_in_ram(n: int, args: argparse.Namespace) -> dict[str, float | int | str]:
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


STORE_READ_CHILD = """
import os, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from wikivis.config import load_settings
settings = load_settings(env={{}}, home=Path({home!r}), contact="bench <bench@example.org>")
t = time.perf_counter()
if {mode!r} == "spool":
    from wikivis.index.build import spool_embeddings
    n = spool_embeddings(settings, "bench-store", Path({out!r})).n
else:
    from wikivis.embed.store import load_embeddings
    n = len(load_embeddings(settings, "bench-store")[0])
print(n, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def store_read(sizes: list[int], dim: int) -> list[dict[str, float | int | str]]:
    """Peak RSS of an index build's read of the embedding store (``spool_embeddings``: shard by
    shard into a vector file) at each size, next to the whole-collection ``load_embeddings``
    (the baseline), each in a fresh process."""
    import subprocess
    import tempfile

    from wikivis.config import load_settings
    from wikivis.embed.store import ShardWriter, model_embeddings_dir

    rows: list[dict[str, float | int | str]] = []
    root = str(Path(__file__).resolve().parent.parent)
    for n in sizes:
        home = cache_dir("index") / f"store-{n}-d{dim}"
        settings = load_settings(env={}, home=home, contact="bench <bench@example.org>")
        directory = model_embeddings_dir(settings, "bench-store")
        marker = directory / "_complete"
        if not marker.exists():
            shutil.rmtree(directory, ignore_errors=True)
            writer = ShardWriter(directory, "bench-store", "v1", dim)
            rng = np.random.default_rng(7)
            for start in range(0, n, 100_000):
                m = min(100_000, n - start)
                writer.add([f"{i:040x}" for i in range(start, start + m)], rng.standard_normal((m, dim), dtype=np.float32))
            writer.close()
            marker.write_text("ok")
        for mode in ("spool", "load"):
            with tempfile.TemporaryDirectory(dir=cache_dir("index")) as out:
                code = STORE_READ_CHILD.format(root=root, home=str(home), mode=mode, out=out)
                result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            got, seconds, rss = result.stdout.split()
            say(f"store read, {mode:5s}: {int(got):,} × {dim} vectors in {float(seconds):.1f} s, peak RSS {float(rss):.0f} MB")
            rows.append({"n": n, "dim": dim, "mode": mode, "s": round(float(seconds), 2), "peak_rss_mb": round(float(rss), 1)})
    return rows


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
    ap.add_argument("--store-read", default="", help="sizes for the store-read RSS check instead (e.g. 1000000,4000000)")
    ap.add_argument("--store-dim", type=int, default=64)
    args = ap.parse_args(argv)
    if args.store_read:
        reads = store_read([int(x) for x in args.store_read.split(",")], args.store_dim)
        spool = [r for r in reads if r["mode"] == "spool"]
        load = [r for r in reads if r["mode"] == "load"]
        emit({"bench": "index_store_read", "spool_rss_growth_ratio": round(float(spool[-1]["peak_rss_mb"]) / float(spool[0]["peak_rss_mb"]), 3),
              "load_rss_growth_ratio": round(float(load[-1]["peak_rss_mb"]) / float(load[0]["peak_rss_mb"]), 3), "reads": reads})
        return
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
