"""Former home of the stage functions, kept as re-exports: the stages live in :mod:`wikivis.stages`.

Each stage function takes a :class:`~wikivis.stages.run.RunContext` (settings, lake,
catalog, run id, model id) first; build one with ``RunContext.open(settings, run_id)``.
"""

from __future__ import annotations

from wikivis.stages.annotate import captions, wikidata
from wikivis.stages.commons import (
    commons,
    fetch_media_shard,
    fetch_metadata_shard,
    gate_media,
    merge_commons,
    plan_commons,
)
from wikivis.stages.graph import NIGHTLY, run_all, run_graph
from wikivis.stages.ingest import (
    events_catchup,
    gate_events,
    gate_tables,
    ingest,
    resolve_ingest_source,
    wait_for_dump,
    wait_for_dump_exact,
)
from wikivis.stages.publish import (
    evaluate,
    promote_candidate,
    publish,
    train_candidate,
    train_recommender,
    write_report,
)
from wikivis.stages.run import RunContext, failure_message, finish_runs, run_id_for, stage
from wikivis.stages.vectors import build_index, embed, gate_embeddings, gate_index

__all__ = [
    "NIGHTLY", "RunContext", "build_index", "captions", "commons", "embed", "evaluate", "events_catchup",
    "failure_message", "fetch_media_shard", "fetch_metadata_shard", "finish_runs", "gate_embeddings", "gate_events",
    "gate_index", "gate_media", "gate_tables", "ingest", "merge_commons", "plan_commons", "promote_candidate",
    "publish", "resolve_ingest_source", "run_all", "run_graph", "run_id_for", "stage", "train_candidate",
    "train_recommender", "wait_for_dump", "wait_for_dump_exact", "wikidata", "write_report",
]
