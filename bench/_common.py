"""Tiny common runner for the benchmarks in ``bench/``.

Every benchmark prints human-readable lines, then exactly one JSON object on its last line
(:func:`emit`), with ratios against a baseline measured *in the same run* — this machine is
noisy, so absolute figures from different runs are not comparable, ratios are.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CACHE = Path(os.environ.get("WIKIVIS_BENCH_CACHE", Path(__file__).resolve().parent.parent / "var" / "bench-cache"))


def cache_dir(name: str) -> Path:
    path = CACHE / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident set size of this process (or of its finished children) in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """``with timer() as t: ...`` then ``t["s"]`` holds the elapsed seconds."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["s"] = time.perf_counter() - start


def best_interleaved(runs: dict[str, Callable[[], Any]], repeats: int = 3) -> dict[str, float]:
    """The best wall time of each of ``runs``, measured in turn ``repeats`` times: on a noisy
    shared machine a burst of load then hits both sides of a ratio, not one."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def say(*parts: Any) -> None:
    print(*parts, file=sys.stdout, flush=True)


def emit(result: dict[str, Any]) -> None:
    """Print the benchmark's result as one JSON object on the last line."""
    print(json.dumps(result, sort_keys=True, default=float), flush=True)
