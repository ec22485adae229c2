"""Latency of the recommendation API (p50/p95 per request) next to an index-free baseline.

What is timed, on a synthetic topic wiki published through the real lake and embedding
store (:func:`wikivis.recommend.synthetic.publish_synthetic`) and served the way ``wikivis
serve`` serves it — ``recommend.loading.load_service`` with the index that
``wikivis.index.build_index`` chose for the budget (``--index exact`` uses the in-memory
exact faiss Flat index instead):

* ``suggest_visrank`` — ``RecommenderService.suggest`` (kNN candidate pool per seed image,
  exact VisRank scoring of the pool, Wikimedia filters, provenance);
* ``suggest_curatornet`` — the same pool re-ranked by a (briefly trained) CuratorNet;
* ``similar`` — ``RecommenderService.similar``;
* ``http_suggest`` / ``http_similar`` — the same through the FastAPI app (in-process
  ``TestClient``: routing, validation and JSON included, no socket);
* baseline ``exact_all_items`` — what serving without an index costs: VisRank scores for
  *every* image (``N × |profile|`` dot products) and a full sort, per request.

Also reported: the tutorial's dense N×N similarity matrix size for the same N (computed,
not allocated) against the memory of the vectors the index holds.

Usage: ``python bench/serve.py [--images 20000] [--articles 5000] [--dim 1280] [--requests 300]
[--index published|exact]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import cache_dir, emit, peak_rss_mb, say, timer
from wikivis.config import load_settings
from wikivis.recommend.curatornet import CuratorNetConfig
from wikivis.recommend.loading import load_service
from wikivis.recommend.service import RecommenderService
from wikivis.recommend.synthetic import publish_synthetic
from wikivis.recommend.training import article_profiles, train_on_profiles
from wikivis.recommend.visrank import visrank_scores


def percentiles(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 3),
        "p95_ms": round(float(np.percentile(samples, 95)), 3),
    }


def timed(fn, args_list: list) -> list[float]:
    out = []
    for args in args_list:
        start = time.perf_counter()
        fn(*args)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--articles", type=int, default=5_000)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--faiss-threads", type=int, default=1, help="as `wikivis serve` runs (0: faiss default)")
    parser.add_argument("--index", choices=("published", "exact"), default="published")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="serve-", dir=cache_dir("serve")))
    try:
        run(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(args: argparse.Namespace, home: Path) -> None:
    settings = load_settings(env={}, home=home)
    with timer() as t_gen:
        publish_synthetic(
            settings, seed=0, n_topics=args.topics, n_articles=args.articles, n_images=args.images, dim=args.dim
        )
    say(f"published synthetic wiki: {args.images} images × {args.dim}-d, {args.articles} articles ({t_gen['s']:.1f} s)")
    index_key = "Flat (exact, in memory)"
    if args.index == "published":
        from wikivis.index import build_index

        with timer() as t_index:
            built = build_index(settings)
        index_key = f"{built.key} (recall@10 {built.recall:.3f})"
        say(f"index built: {index_key} in {t_index['s']:.1f} s")
    if args.faiss_threads:
        import faiss

        faiss.omp_set_num_threads(args.faiss_threads)
    service = load_service(settings)
    if args.index == "exact":
        from wikivis.recommend.search import ExactSearch

        service = RecommenderService(service.data, ExactSearch(service.data.item_ids, service.data.vectors))
    data = service.data
    say(f"serving with index: {service.index_kind}")
    rng = np.random.default_rng(0)
    titles = [data.titles[p] for p in rng.choice(sorted(data.titles), size=args.requests)]
    files = [data.display_name(s) for s in rng.choice(data.item_ids[: args.images], size=args.requests)]
    service.suggest(titles[0], args.k)  # warm caches (filters, lookups)

    results: dict[str, dict[str, float]] = {}
    results["suggest_visrank"] = percentiles(
        timed(lambda t: service.suggest(t, args.k, model="visrank"), [(t,) for t in titles])
    )
    results["similar"] = percentiles(timed(lambda f: service.similar(f, args.k), [(f,) for f in files]))

    unit = data.unit_vectors
    profiles = [[data.row_of[s] for s in data.page_items.get(data.resolve_title(t) or -1, [])] or [0] for t in titles]

    def exact_all(rows: list[int]) -> None:
        scores = visrank_scores(unit, unit[rows])
        np.argsort(-scores)[: args.k]

    results["baseline_exact_all_items"] = percentiles(timed(exact_all, [(p,) for p in profiles]))

    with timer() as t_train:
        service.curatornet = train_on_profiles(
            data, article_profiles(data, service.filter), CuratorNetConfig(epochs=2), device="auto"
        )
    say(f"CuratorNet: 2 epochs in {t_train['s']:.1f} s on {service.curatornet.meta['device']}")
    results["suggest_curatornet"] = percentiles(
        timed(lambda t: service.suggest(t, args.k, model="curatornet"), [(t,) for t in titles])
    )

    from fastapi.testclient import TestClient

    from wikivis.serve.app import create_app

    client = TestClient(create_app(load_settings(env={}), service=service))
    results["http_suggest"] = percentiles(
        timed(
            lambda t: client.get("/suggest", params={"article": t, "k": args.k, "model": "visrank"}),
            [(t,) for t in titles],
        )
    )
    results["http_similar"] = percentiles(
        timed(lambda f: client.get("/similar", params={"file": f, "k": args.k}), [(f,) for f in files])
    )

    for name, r in results.items():
        say(f"{name:>26}: p50 {r['p50_ms']:8.3f} ms   p95 {r['p95_ms']:8.3f} ms")
    n = len(data.item_ids)
    dense_mb = n * n * 4 / 2**20
    vectors_mb = data.vectors.nbytes / 2**20
    say(
        f"tutorial dense N×N float32 matrix for N={n}: {dense_mb:.0f} MiB (computed); index vectors: {vectors_mb:.0f} MiB"
    )
    base = results["baseline_exact_all_items"]["p50_ms"]
    emit(
        {
            "bench": "serve",
            "images": n,
            "articles": len(data.titles),
            "dim": data.dim,
            "requests": args.requests,
            "k": args.k,
            "faiss_threads": args.faiss_threads,
            "index": service.index_kind,
            **{f"{name}_{key}": value for name, r in results.items() for key, value in r.items()},
            "speedup_p50_visrank_vs_exact_all": round(base / results["suggest_visrank"]["p50_ms"], 2),
            "dense_matrix_mb": round(dense_mb, 1),
            "index_vectors_mb": round(vectors_mb, 1),
            "dense_vs_index_memory_ratio": round(dense_mb / vectors_mb, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    )


if __name__ == "__main__":
    main()
