"""A toy stage family for the graph tests: one module, one step, one graph line."""

from __future__ import annotations

from dataclasses import replace

from wikivis.stages.graph import NIGHTLY, Graph, StageSpec
from wikivis.stages.run import Item, RunContext, stage


def toy(ctx: RunContext, item: Item) -> Item:
    """Records itself like every stage and marks the item."""
    with stage(ctx, "toy", item.get("wiki"), snapshot=item.get("snapshot")) as metrics:
        metrics["seen"] = 1
    return {**item, "toy": True}


TOY = StageSpec("toy", toy, ("gate_events",), select="toy", label="toy: a stage added at test time")


def graph_with_toy(base: Graph = NIGHTLY) -> Graph:
    """``base`` plus the toy stage after ``gate_events`` and before ``publish``: a new graph."""
    return base.with_stage(TOY, feeds=("publish",))


def stubbed(graph: Graph, calls: list[str]) -> Graph:
    """``graph`` with every step but the toy one replaced by a stub that records itself
    (so that ``run_all`` runs the whole order in a second, without sources)."""

    def stub(spec: StageSpec):  # type: ignore[no-untyped-def]
        def step(ctx: RunContext, item: Item) -> object:
            calls.append(spec.name)
            with stage(ctx, spec.stage_name, item.get("wiki")):
                pass
            if spec.scope == "plan":
                return [{**item, "shard": 0, "n_shards": 1}]
            if spec.name == "ingest":
                return {**item, "snapshot": "20261101"}
            if spec.name == "build_index":
                return {**item, "index_version": "v-toy"}
            return item

        return step

    def wrap(spec: StageSpec) -> StageSpec:
        if spec.name == "toy":
            def recorded(ctx: RunContext, item: Item) -> Item:
                calls.append("toy")
                return toy(ctx, item)

            return replace(spec, step=recorded)
        return replace(spec, step=stub(spec))

    return Graph(tuple(wrap(s) for s in graph.specs), tuple(wrap(s) for s in graph.tail))
