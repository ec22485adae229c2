"""Importing the caption competition's ResNet-50 embedding files: throughput and peak RSS.

Generates ``--rows`` rows (default 1,000,000) in the published layout — gzipped, tab-separated,
``image_url \\t 2048 comma-separated floats``, split over ``--parts`` files — then runs
:func:`wikivis.research.embeddings.import_embedding_files` in a child process (so its peak RSS
is the import's alone), reruns it on one part (idempotency: nothing written), and measures
the baseline in the same run: the per-row NumPy reader (``read_embeddings``) on the first
``--baseline-rows`` rows.

Rows are drawn from a pool of 512 random vectors (generating 2 billion fresh floats in Python
would dominate the run); the pool is large enough that gzip's 32 KiB window sees no repeats,
so the files decompress like real ones.  1 % of the rows name files the lake does not know.
The generated files and the store are deleted at the end (about 6 GB + 8 GB at 1M rows).

    PYTHONPATH=. .venv/bin/python bench/research_import.py [--rows N] [--parts P]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import multiprocessing as mp
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import emit, peak_rss_mb, say, timer

DIM = 2048
UP = "https://upload.wikimedia.org/wikipedia/commons"


def name(i: int) -> str:
    return f"Bench_image_{i:08d}.jpg"


def sha1_of(i: int) -> str:
    return hashlib.sha1(name(i).encode()).hexdigest()


def generate(folder: Path, rows: int, parts: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    pool = [",".join(f"{x:.4f}" for x in rng.gamma(0.6, 0.5, DIM)) for _ in range(512)]
    picks = rng.integers(0, len(pool), rows)
    paths = []
    per = -(-rows // parts)
    for p in range(parts):
        path = folder / f"train_resnet_embeddings_part-{p:05d}.csv.gz"
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
            for i in range(p * per, min(rows, (p + 1) * per)):
                h = hashlib.md5(name(i).encode()).hexdigest()
                fh.write(f"{UP}/{h[0]}/{h[:2]}/{name(i)}\t{pool[picks[i]]}\n")
        paths.append(path)
    return paths


def _child(home: str, inputs: list[str], rows: int, out: Any) -> None:
    from wikivis.config import load_settings
    from wikivis.research.embeddings import import_embedding_files

    settings = load_settings(env={}, home=Path(home), contact="bench <bench@example.org>")
    known = int(rows * 0.99)
    sha1_map = {name(i): sha1_of(i) for i in range(known)}
    with timer() as t:
        summary = import_embedding_files(settings, inputs, sha1_map)
    out.put({"s": t["s"], "peak_rss_mb": peak_rss_mb(), **summary.as_dict()})


def run_child(home: Path, inputs: list[Path], rows: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(home), [str(p) for p in inputs], rows, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return dict(result)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--baseline-rows", type=int, default=20_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wikivis-bench-research-"))
    try:
        with timer() as t:
            (work / "in").mkdir()
            paths = generate(work / "in", args.rows, args.parts)
        size = sum(p.stat().st_size for p in paths)
        say(f"generated {args.rows} rows in {len(paths)} files, {size / 2**30:.2f} GiB gzipped, {t['s']:.0f} s")

        from wikivis.research.files import read_embeddings

        with timer() as t:
            for n, _ in enumerate(read_embeddings(paths[0]), start=1):
                if n >= args.baseline_rows:
                    break
        baseline = n / t["s"]
        say(f"baseline per-row reader: {baseline:,.0f} rows/s ({n} rows)")

        first = run_child(work / "home", paths, args.rows)
        rate = first["rows"] / first["s"]
        say(f"import: {first['rows']:,} rows in {first['s']:.0f} s = {rate:,.0f} rows/s, "
            f"{first['imported']:,} imported, skipped {first['skipped']}, {first['shards']} shards, "
            f"peak RSS {first['peak_rss_mb']:.0f} MiB")
        again = run_child(work / "home", paths[:1], args.rows)
        say(f"rerun on one part: {again['rows']:,} rows, {again['imported']} imported, "
            f"{again['already_present']:,} already present, {again['shards']} shards, {again['s']:.0f} s")
        store = sum(f.stat().st_size for f in (work / "home").rglob("*.parquet"))
        emit({
            "rows": first["rows"],
            "seconds": round(first["s"], 1),
            "rows_per_s": round(rate),
            "mb_in_per_s": round(size / 2**20 / first["s"], 1),
            "peak_rss_mb": round(first["peak_rss_mb"]),
            "baseline_rows_per_s": round(baseline),
            "speedup_vs_per_row_reader": round(rate / baseline, 2),
            "rerun_imported": again["imported"],
            "store_gib": round(store / 2**30, 2),
        })
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
