"""Latency of the recommendation API (p50/p95 per request) next to an index-free baseline.

What is timed, on a synthetic topic wiki (:func:`wikivis.recommend.synthetic.synthetic_wiki`)
served from memory with the exact faiss Flat index:

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

Usage: ``python bench/serve.py [--images 20000] [--articles 5000] [--dim 1280] [--requests 300]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import emit, peak_rss_mb, say, timer
from wikivis.config import load_settings
from wikivis.recommend.curatornet import CuratorNetConfig
from wikivis.recommend.service import RecommenderService
from wikivis.recommend.synthetic import synthetic_wiki
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
    args = parser.parse_args()
    if args.faiss_threads:
        import faiss

        faiss.omp_set_num_threads(args.faiss_threads)

    with timer() as t_gen:
        synth = synthetic_wiki(
            seed=0, n_topics=args.topics, n_articles=args.articles, n_images=args.images, dim=args.dim
        )
    data = synth.data
    say(f"synthetic wiki: {len(data.item_ids)} images × {data.dim}-d, {len(data.titles)} articles ({t_gen['s']:.1f} s)")
    service = RecommenderService(data)
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
