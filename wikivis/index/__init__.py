"""Nearest-neighbour index over the image embeddings (faiss, inner product on normalised vectors).

Public API::

    build_index(settings, model_id=None, *, index_key=None, tuning=None) -> IndexBuildResult   # full build
    add_to_index(settings, model_id=None, *, tuning=None) -> IndexBuildResult                  # incremental
    load_index(settings, model_id=None) -> LoadedIndex   # .search(vectors, k), .vector_for(sha1)
    index_info(settings, model_id=None) -> dict
    plan_index(n, dim, memory_budget_mb=, latency_budget_ms=) -> IndexPlan

Both builders gate on recall@10 against exact search and raise ``GateFailed`` (old index kept)
below ``Settings.recall_threshold``.  Modules: :mod:`.plan` (type choice), :mod:`.core`
(faiss, recall, tuning), :mod:`.store` (versions, pointer, loading), :mod:`.build`.
"""

import os

# faiss's bundled OpenMP runtime spins while waiting for work.  On cores shared with other
# processes (Airflow workers, CI) that made faiss k-means 4–7× slower here (IVF-PQ training
# 9.3 s → 1.2 s with PASSIVE).  The effect on an idle machine was not measurable here (this
# machine was never idle).  It only applies if set before faiss is first imported in the
# process; an explicit OMP_WAIT_POLICY (e.g. ACTIVE) wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from wikivis.index.build import IndexBuildResult, IndexTuning, add_to_index, build_index, index_info
from wikivis.index.core import RecallSample, recall_at_k
from wikivis.index.plan import IndexPlan, plan_index
from wikivis.index.store import LoadedIndex, load_index

__all__ = [
    "IndexBuildResult",
    "IndexPlan",
    "IndexTuning",
    "LoadedIndex",
    "RecallSample",
    "add_to_index",
    "build_index",
    "index_info",
    "load_index",
    "plan_index",
    "recall_at_k",
]
