"""The pipeline's stages: one module per stage family, the run context, and the graph.

=================  ==============================================================
module             stages (and their gates)
=================  ==============================================================
``ingest``         ingest → gate_tables, events_catchup → gate_events
``annotate``       captions, wikidata (gates inside)
``commons``        plan_commons → fetch_metadata_shard → fetch_media_shard → merge_commons → gate_media
``vectors``        embed → gate_embeddings, build_index (recall gate inside) → gate_index
``publish``        publish, write_report; train_recommender, evaluate, train_candidate, promote_candidate
``run``            RunContext, the stage recorder, run-id naming, finish_runs
``graph``          the order: NIGHTLY, EVENTS, TRAINING, run_all
=================  ==============================================================

Importing this package loads nothing heavy (the DAG files import the graph at parse time).
"""
