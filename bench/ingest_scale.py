"""Benchmark: the dump ingest at two or more scales of English Wikipedia + Commons, through
the real CLI path, in bounded memory.

For each scale (default 1/3000 and 1/100, 30x apart) a dump set shaped like enwiki +
Commons is generated (:mod:`wikivis.mirror.scaledumps`, cached under
``var/bench-cache/ingest_scale``), served over HTTP with dumps.wikimedia.org's layout (the
mirror's dumps server), and ingested by ``wikivis --json dumps ingest --wiki enwiki --date
latest`` in a subprocess with its own ``WIKIVIS_HOME`` and ``WIKIVIS_MEMORY_LIMIT``:
download, verify, parse, out-of-core joins, lake writes.  Measured per scale, for that
subprocess alone (``os.wait4``): wall time, CPU time (user + system), peak RSS; rows/s are
*input* rows (all six tables) per CPU second — the machine is shared and noisy, CPU time is
the steadier figure.  The memory slope is the least-squares fit of peak RSS against input
rows (MiB per million rows); bounded memory means a slope near zero.

Goals (issue 19): peak RSS within the memory limit + 512 MiB at every scale, the large
scale's peak RSS at most 1.2x the small one's, >= 300k input rows per CPU second.

The last line is one JSON object: ``rows_per_s`` (largest scale), ``peak_rss_mb_small``,
``peak_rss_mb_large``, ``rss_growth_ratio``, ``cpu_s_per_million_rows``, plus detail.

    PYTHONPATH=$PWD python bench/ingest_scale.py [--scales 3000,100] [--memory-limit 512MiB] [--arrow-pool system]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import cache_dir, emit, say

ROOT = Path(__file__).resolve().parent.parent

CLI = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"


def run_ingest(dumps_url: str, home: Path, memory_limit: str, arrow_pool: str) -> dict[str, float]:
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), WIKIVIS_HOME=str(home), WIKIVIS_DUMPS_URL=dumps_url,
        WIKIVIS_WIKIS="enwiki", WIKIVIS_COMMONS_WIKI="commonswiki", WIKIVIS_MEMORY_LIMIT=memory_limit,
        WIKIVIS_CONTACT="wikivis bench <bench@example.org>",
    )
    env.pop("WIKIVIS_CONFIG", None)
    if arrow_pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = arrow_pool  # Arrow's own switch (mimalloc, jemalloc, system)
    start = time.perf_counter()
    with (home / "stdout").open("wb") as out, (home / "stderr").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "--json", "dumps", "ingest", "--wiki", "enwiki", "--date", "latest"],
            env=env, stdout=out, stderr=err, cwd=str(home),
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (peak RSS, CPU)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed ({proc.returncode}): {(home / 'stderr').read_text(errors='replace')[-2000:]}")
    out_text = (home / "stdout").read_text()
    result = json.loads(out_text)
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
        "rows_out": sum(result["rows"].values()),
    }


def measure(scale_denominator: int, memory_limit: str, seed: int, arrow_pool: str = "") -> dict[str, float]:
    from wikivis.mirror.base import RunningServer
    from wikivis.mirror.scaledumps import scale_dumps_service, write_scale_set

    t0 = time.perf_counter()
    dump_set = write_scale_set(cache_dir("ingest_scale") / f"1-{scale_denominator}-seed{seed}", 1 / scale_denominator, seed=seed)
    generated_s = time.perf_counter() - t0
    size_mb = sum(dump_set.path(dump_set.commons_wiki if t == "image" else dump_set.wiki, t).stat().st_size
                  for t in dump_set.rows) / 2**20
    server = RunningServer(scale_dumps_service(dump_set), "127.0.0.1", 0)
    server.start()
    home = Path(tempfile.mkdtemp(prefix=f"ingest-scale-{scale_denominator}-"))
    try:
        figures = run_ingest(server.url, home, memory_limit, arrow_pool)
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    rows = dump_set.total_rows
    figures.update(
        scale=f"1/{scale_denominator}", rows_in=rows, gz_mb=size_mb, generate_s=generated_s,
        rows_per_cpu_s=rows / figures["cpu_s"], rows_per_wall_s=rows / figures["wall_s"],
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="3000,100", help="denominators of enwiki + Commons, small first")
    parser.add_argument("--memory-limit", default="512MiB", help="WIKIVIS_MEMORY_LIMIT of the ingest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--arrow-pool", default="", help="ARROW_DEFAULT_MEMORY_POOL of the ingest (default: Arrow's, mimalloc)")
    args = parser.parse_args()
    from wikivis.config import parse_size
    from wikivis.mirror.scaledumps import FULL_ROWS

    limit_mb = parse_size(args.memory_limit) / 2**20
    results = [measure(int(d), args.memory_limit, args.seed, args.arrow_pool) for d in args.scales.split(",")]
    say(f"memory limit {args.memory_limit}, Arrow pool {args.arrow_pool or 'default'}; shared 2-core machine, figures are noisy")
    say(f"{'scale':>8} {'rows in':>10} {'gz MiB':>7} {'wall s':>7} {'CPU s':>7} {'peak RSS MiB':>13} {'rows/CPU s':>11}")
    for r in results:
        say(f"{r['scale']:>8} {r['rows_in']:>10,} {r['gz_mb']:>7.1f} {r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} "
            f"{r['peak_rss_mb']:>13.0f} {r['rows_per_cpu_s']:>11,.0f}")
    small, large = results[0], results[-1]
    xs = [r["rows_in"] / 1e6 for r in results]
    ys = [r["peak_rss_mb"] for r in results]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / max(1e-12, sum((x - mx) ** 2 for x in xs))
    full_rows = sum(FULL_ROWS.values())
    cpu_per_m = large["cpu_s"] / (large["rows_in"] / 1e6)
    full = {
        "rows": full_rows,
        "cpu_h": cpu_per_m * full_rows / 1e6 / 3600,
        "peak_rss_mb_fit": my + slope * (full_rows / 1e6 - mx),
    }
    say(f"memory slope {slope:.1f} MiB per million input rows; "
        f"full enwiki + Commons ({full_rows / 1e6:.0f} M rows): ~{full['cpu_h']:.2f} CPU h, "
        f"peak RSS by the fit ~{full['peak_rss_mb_fit']:.0f} MiB (bounded by the limit: {limit_mb + 512:.0f} MiB)")
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    goals = {
        "rss_within_limit": all(r["peak_rss_mb"] <= limit_mb + 512 for r in results),
        "rss_growth_ratio_le_1_2": ratio <= 1.2,
        "rows_per_cpu_s_ge_300k": large["rows_per_cpu_s"] >= 300_000,
        "scales_30x_apart": large["rows_in"] >= 30 * small["rows_in"] * 0.95,
    }
    say("goals: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in goals.items()))
    emit({
        "rows_per_s": round(large["rows_per_cpu_s"]),
        "peak_rss_mb_small": round(small["peak_rss_mb"], 1),
        "peak_rss_mb_large": round(large["peak_rss_mb"], 1),
        "rss_growth_ratio": round(ratio, 3),
        "cpu_s_per_million_rows": round(cpu_per_m, 2),
        "memory_limit_mb": limit_mb,
        "arrow_pool": args.arrow_pool or "default",
        "rss_slope_mb_per_million_rows": round(slope, 2),
        "full_scale": full,
        "goals": goals,
        "scales": results,
    })


if __name__ == "__main__":
    main()
