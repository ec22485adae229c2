"""The stage graph is the only copy of the order: a stage added to it (here a toy stage,
at test time, as a new graph) is run by ``run_all``, selectable by a backfill, and listed by
the CLI's status and the monitoring page.  The Airflow side is in tests/dags/test_stage_graph.py."""

from __future__ import annotations

from tests.unit.stages.toy import graph_with_toy, stubbed
from wikivis.stages.graph import EVENTS, NIGHTLY, TRAINING, run_all


def test_the_nightly_graph_is_in_dependency_order_and_names_every_backfill_stage():
    from wikivis.orchestration import STAGE_LABELS, STAGES

    for graph in (NIGHTLY, EVENTS, TRAINING):
        seen: set[str] = set()
        for spec in graph:
            assert set(spec.after) <= seen, spec.name  # every dependency comes first
            seen.add(spec.name)
    assert STAGES == ("ingest", "events", "captions", "wikidata", "media", "embed", "index", "publish")
    assert set(STAGE_LABELS) == set(STAGES)
    assert NIGHTLY["merge_commons"].after == ("gate_events", "fetch_media")  # the merge is its own step
    assert NIGHTLY["gate_media"].after == ("merge_commons",)
    assert EVENTS.names() == ["events_catchup", "gate_events", "publish"]


def test_adding_a_stage_is_one_spec_and_leaves_the_nightly_graph_alone():
    graph = graph_with_toy()
    assert "toy" not in NIGHTLY.names()  # a new graph, nothing global changed
    names = graph.names()
    assert names.index("gate_events") < names.index("toy") < names.index("publish")
    assert "toy" in graph["publish"].after
    selectable = graph.selectable()  # what a backfill form built from this graph offers
    assert [s for s in selectable if s != "toy"] == list(NIGHTLY.selectable())
    assert selectable.index("events") < selectable.index("toy")
    assert graph.labels()["toy"].startswith("toy:")


def test_run_all_the_status_and_the_page_pick_up_a_toy_stage(settings):
    from wikivis.cli.status import collect_status as cli_status
    from wikivis.monitoring import collect_status, render_page

    graph = graph_with_toy()
    calls: list[str] = []
    summary = run_all(settings, wikis=["samplewiki"], date="20261101", run_id="run__samplewiki__20261101T000000Z",
                      graph=stubbed(graph, calls))
    assert summary["wikis"]["samplewiki"]["run_id"] == "run__samplewiki__20261101T000000Z"
    # every step once (the one shard), in the graph's order, the toy between the events gate and publish
    assert calls == [s.name for s in (*graph.specs, *graph.tail)]
    assert calls.index("gate_events") < calls.index("toy") < calls.index("publish")

    status = collect_status(settings, graph=graph)
    assert "toy" in status["pipeline"]
    assert status["pipeline"].index("toy") < status["pipeline"].index("publish")
    assert [s["stage"] for s in status["stages"]].index("toy") < [s["stage"] for s in status["stages"]].index("publish")
    page = render_page(status)
    pipeline_line = page[page.index('id="pipeline"'):]
    assert "toy" in pipeline_line[:pipeline_line.index("</p>")]

    cli = cli_status(settings, graph=graph)
    stages = [s["stage"] for s in cli["runs"][0]["stages"]]
    assert "toy" in stages and stages.index("toy") < stages.index("publish")
