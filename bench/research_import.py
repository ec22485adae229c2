"""Importing the caption competition's ResNet-50 embedding files: throughput and peak RSS.

Generates ``--rows`` rows (default 1,000,000) in the published layout — gzipped, tab-separated,
``image_url \\t 2048 comma-separated floats``, split over ``--parts`` files — and a lake whose
Commons ``files`` dataset knows 99 % of their names, then runs
:func:`wikivis.research.embeddings.import_embedding_files` (names → sha1 from the lake, as
``wikivis research import-embeddings`` does) in a child process under ``--memory-limit``
(so its peak RSS is the import's alone), reruns it on a file of ``--rerun-rows`` rows that are
all stored already (idempotency: nothing written), and measures the baseline in the same run:
the per-row NumPy reader (``read_embeddings``) on the first ``--baseline-rows`` rows.

Memory-flatness is shown by running two scales (e.g. ``--rows 30000`` and ``--rows 1000000``):
the peak RSS must not grow with the rows, and stays within ``memory_limit + 512 MiB``.

Rows are drawn from a pool of 512 random vectors (generating 2 billion fresh floats in Python
would dominate the run); the pool is large enough that gzip's 32 KiB window sees no repeats,
so the files decompress like real ones.  The generated files and the store are deleted at the
end (about 6 GB + 7 GB at 1M rows) unless ``--inputs DIR`` keeps the files for a later run.

    PYTHONPATH=. .venv/bin/python bench/research_import.py [--rows N] [--parts P] [--memory-limit 256MiB] [--inputs DIR]

Throughput is given per wall second and per CPU second of the import process: on a shared
machine the second is the stable one.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
from pathlib import Path
from queue import Empty
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
    from isal import igzip  # gzip level 1 at several times zlib's speed (a dependency of wikivis)

    pool = [("\t" + ",".join(f"{x:.4f}" for x in rng.gamma(0.6, 0.5, DIM)) + "\n").encode() for _ in range(512)]
    picks = rng.integers(0, len(pool), rows)
    paths = []
    per = -(-rows // parts)
    for p in range(parts):
        path = folder / f"train_resnet_embeddings_part-{p:05d}.csv.gz"
        tmp = path.with_suffix(".tmp")
        with igzip.open(tmp, "wb", compresslevel=1) as fh:
            for i in range(p * per, min(rows, (p + 1) * per)):
                h = hashlib.md5(name(i).encode()).hexdigest()
                fh.write(f"{UP}/{h[0]}/{h[:2]}/{name(i)}".encode() + pool[picks[i]])
        tmp.rename(path)
        paths.append(path)
    return paths


def build_lake(home: Path, rows: int) -> None:
    """The Commons ``files`` dataset with the first 99 % of the names (the rest are unknown)."""
    import pyarrow as pa

    from wikivis.config import load_settings
    from wikivis.datasets import schema as dataset_schema
    from wikivis.lake import Lake

    settings = load_settings(env={}, home=home, contact="bench <bench@example.org>")
    files = dataset_schema("files")
    known = int(rows * 0.99)

    def batches() -> Any:
        for start in range(0, known, 100_000):
            ids = range(start, min(known, start + 100_000))
            given = {"wiki": [settings.commons_wiki] * len(ids), "file_name": [name(i) for i in ids],
                     "sha1": [sha1_of(i) for i in ids], "mime": ["image/jpeg"] * len(ids)}
            yield pa.RecordBatch.from_arrays(
                [pa.array(given.get(f.name, [0 if pa.types.is_integer(f.type) else ""] * len(ids)), f.type)
                 for f in files], schema=files)

    Lake.from_settings(settings).write("files", settings.commons_wiki, "20260101", batches(), presorted=True)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _hwm_mb() -> float:
    """This process's own peak RSS (``VmHWM``): ``ru_maxrss`` would carry the parent's peak
    over ``execve``, so a child spawned after building a big lake would report that."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()  # not Linux


def _child(home: str, inputs: list[str], memory_limit: str, out: Any) -> None:
    from wikivis.config import load_settings
    from wikivis.lake import Lake
    from wikivis.research.embeddings import import_embedding_files
    from wikivis.research.files import lake_name_batches, name_sources

    settings = load_settings(env={"WIKIVIS_MEMORY_LIMIT": memory_limit}, home=Path(home),
                             contact="bench <bench@example.org>")
    lake = Lake.from_settings(settings)
    rss_before = _hwm_mb()
    cpu = _cpu_s()
    with timer() as t:
        names = lake_name_batches(lake, name_sources(lake, [settings.commons_wiki]))
        summary = import_embedding_files(settings, inputs, names)
    out.put({"s": t["s"], "cpu_s": _cpu_s() - cpu, "peak_rss_mb": _hwm_mb(), "rss_before_mb": rss_before,
             **summary.as_dict()})


def run_child(home: Path, inputs: list[Path], memory_limit: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(home), [str(p) for p in inputs], memory_limit, queue))
    proc.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not proc.is_alive():
                raise SystemExit(f"the import process died (exit code {proc.exitcode}); see its traceback above") from None
    proc.join()
    return dict(result)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--memory-limit", default="256MiB", help="WIKIVIS_MEMORY_LIMIT of the import")
    ap.add_argument("--baseline-rows", type=int, default=5_000)
    ap.add_argument("--rerun-rows", type=int, default=10_000)
    ap.add_argument("--inputs", type=Path,
                    help="keep the generated files in this folder (reused when it holds --parts files already)")
    args = ap.parse_args()
    from wikivis.config import parse_size

    limit_mb = parse_size(args.memory_limit) / 2**20
    work = Path(tempfile.mkdtemp(prefix="wikivis-bench-research-"))
    try:
        with timer() as t:
            folder = args.inputs or work / "in"
            folder.mkdir(parents=True, exist_ok=True)
            paths = sorted(folder.glob("train_resnet_embeddings_part-*.csv.gz"))
            if len(paths) != args.parts:
                paths = generate(folder, args.rows, args.parts)
        size = sum(p.stat().st_size for p in paths)
        say(f"input: {args.rows} rows in {len(paths)} files, {size / 2**30:.2f} GiB gzipped, {t['s']:.0f} s")
        (work / "rerun").mkdir()
        rerun = generate(work / "rerun", args.rerun_rows, 1, seed=1)  # rows 0..n-1: all imported already
        build_lake(work / "home", args.rows)

        from wikivis.research.files import read_embeddings

        cpu = _cpu_s()
        with timer() as t:
            for n, _ in enumerate(read_embeddings(paths[0]), start=1):
                if n >= args.baseline_rows:
                    break
        baseline, baseline_cpu = n / t["s"], n / (_cpu_s() - cpu)
        say(f"baseline per-row reader: {baseline:,.0f} rows/s wall, {baseline_cpu:,.0f} rows per CPU-s ({n} rows)")

        first = run_child(work / "home", paths, args.memory_limit)
        rate, rate_cpu = first["rows"] / first["s"], first["rows"] / first["cpu_s"]
        say(f"import: {first['rows']:,} rows in {first['s']:.0f} s = {rate:,.0f} rows/s wall, "
            f"{rate_cpu:,.0f} rows per CPU-s, {first['imported']:,} imported, skipped {first['skipped']}, "
            f"{first['shards']} shards, peak RSS {first['peak_rss_mb']:.0f} MiB under a {limit_mb:.0f} MiB limit "
            f"({first['rss_before_mb']:.0f} MiB before the import: interpreter, torch, pyiceberg)")
        again = run_child(work / "home", rerun, args.memory_limit)
        say(f"rerun on already-imported rows: {again['rows']:,} rows, {again['imported']} imported, "
            f"{again['already_present']:,} already present, {again['shards']} shards, {again['s']:.0f} s, "
            f"peak RSS {again['peak_rss_mb']:.0f} MiB")
        store = sum(f.stat().st_size for f in (work / "home" / "embeddings").rglob("*.parquet"))
        emit({
            "rows": first["rows"],
            "memory_limit_mb": round(limit_mb),
            "seconds": round(first["s"], 1),
            "cpu_s": round(first["cpu_s"], 1),
            "rows_per_s": round(rate),
            "rows_per_cpu_s": round(rate_cpu),
            "mb_in_per_s": round(size / 2**20 / first["s"], 1),
            "peak_rss_mb": round(first["peak_rss_mb"]),
            "rss_before_import_mb": round(first["rss_before_mb"]),
            "within_limit_plus_512": first["peak_rss_mb"] <= limit_mb + 512,
            "imported": first["imported"],
            "skipped": first["skipped"],
            "baseline_rows_per_cpu_s": round(baseline_cpu),
            "cpu_speedup_vs_per_row_reader": round(rate_cpu / baseline_cpu, 2),
            "rerun_imported": again["imported"],
            "rerun_already_present": again["already_present"],
            "rerun_peak_rss_mb": round(again["peak_rss_mb"]),
            "store_gib": round(store / 2**30, 2),
        })
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
