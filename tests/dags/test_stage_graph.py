"""The Airflow tasks are generated from the stage graph: a graph with a toy stage (added at
test time, see tests/unit/stages/toy.py) gives a DAG with the toy task in its place, with
nothing changed in the DAG files or the plugin."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dags


def _dag_from(graph):
    import pendulum
    from airflow.sdk import DAG, task
    from wikivis_airflow import stages
    from wikivis_airflow.defaults import default_args

    with DAG("toy_nightly", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
             default_args=default_args(), tags=["wikivis"]) as dag:
        @task
        def plan() -> list[dict[str, str]]:
            return [{"wiki": "samplewiki", "run_id": "toy__samplewiki__20261101T000000Z", "dump_date": "20261101"}]

        @task
        def cross_wiki_run() -> dict[str, str]:
            return {"run_id": "toy__20261101T000000Z"}

        stages.wire(plan(), cross_wiki_run(), graph=graph)
    return dag


def test_a_toy_stage_in_the_graph_becomes_a_task_in_its_place(dagbag):
    from tests.unit.stages.toy import graph_with_toy
    from wikivis.stages.graph import NIGHTLY

    nightly = dagbag.dags["wikivis_nightly"]
    plain = _dag_from(NIGHTLY)
    toy = _dag_from(graph_with_toy())
    # the real DAG file and a DAG wired from the same graph have the same pipeline tasks
    assert set(plain.task_ids) == set(nightly.task_ids) - {"wait_for_dump"}
    assert set(toy.task_ids) == set(plain.task_ids) | {"toy"}
    tasks = toy.task_dict
    assert tasks["toy"].upstream_task_ids == {"gate_events"}
    assert "toy" in tasks["publish"].upstream_task_ids
    assert tasks["toy"].retry_policy is nightly.task_dict["ingest"].retry_policy  # the DAG's defaults apply
    # everything else is wired exactly as in the DAG without the toy
    for task_id in plain.task_ids:
        expected = plain.task_dict[task_id].upstream_task_ids
        assert tasks[task_id].upstream_task_ids - {"toy"} == expected, task_id
