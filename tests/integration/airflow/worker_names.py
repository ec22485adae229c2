"""``[core] hostname_callable`` for the two Celery workers of the distributed test: both run on
this machine, so each reports its own name on the task instances it runs."""

from __future__ import annotations


def cpu() -> str:
    return "wikivis-cpu-worker"


def cpu_b() -> str:
    return "wikivis-cpu-worker-b"


def gpu() -> str:
    return "wikivis-gpu-worker"
