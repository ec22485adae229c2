"""The deferrable dump sensor, its trigger, and the failure/deadline callbacks (no DB)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.dags


@pytest.fixture
def pokes(monkeypatch):
    """Replace the readiness check with a scripted sequence of answers (or errors)."""
    import wikivis_airflow.triggers as triggers

    answers: list[object] = []
    calls: list[tuple[str, str]] = []

    def fake_poke(wiki: str, dump_date: str) -> bool:
        calls.append((wiki, dump_date))
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return bool(answer)

    monkeypatch.setattr(triggers, "poke_dump", fake_poke)
    return SimpleNamespace(answers=answers, calls=calls)


def _events(trigger) -> list[dict]:
    async def collect() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def test_trigger_polls_until_the_dump_is_complete_and_survives_source_errors(pokes):
    from wikivis_airflow.triggers import DumpReadyTrigger

    from wikivis.errors import SourceError

    pokes.answers.extend([False, SourceError("503", url="http://dumps/x"), True])
    trigger = DumpReadyTrigger("samplewiki", "20261101", poll_interval_s=0)
    assert _events(trigger) == [{"wiki": "samplewiki", "dump_date": "20261101", "status": "ready"}]
    assert len(pokes.calls) == 3


def test_trigger_stops_on_a_configuration_error(pokes):
    from wikivis_airflow.triggers import DumpReadyTrigger

    from wikivis.errors import PolicyError

    pokes.answers.append(PolicyError("no contact"))
    [event] = _events(DumpReadyTrigger("samplewiki", "20261101", poll_interval_s=0))
    assert (event["status"], event["message"]) == ("error", "no contact")


def test_trigger_serializes_to_its_importable_path():
    from airflow.sdk.module_loading import import_string
    from wikivis_airflow.triggers import DumpReadyTrigger

    path, kwargs = DumpReadyTrigger("samplewiki", "20261101", poll_interval_s=60).serialize()
    assert import_string(path) is DumpReadyTrigger
    assert kwargs == {"wiki": "samplewiki", "dump_date": "20261101", "poll_interval_s": 60.0}


def test_sensor_defers_only_when_the_dump_is_not_there_yet(pokes):
    from airflow.sdk.exceptions import AirflowException, TaskDeferred
    from wikivis_airflow.sensors import DumpReadySensor
    from wikivis_airflow.triggers import DumpReadyTrigger

    sensor = DumpReadySensor(task_id="wait", wiki="samplewiki", dump_date="20261101", timeout=3600, poke_interval=60)
    pokes.answers.extend([True, False])
    assert sensor.execute({}) is None  # already complete: no deferral
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert pokes.calls == [("samplewiki", "20261101")] * 2
    assert isinstance(deferred.value.trigger, DumpReadyTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout.total_seconds() == 3600
    sensor.execute_complete({}, {"status": "ready"})
    with pytest.raises(AirflowException, match="no contact"):
        sensor.execute_complete({}, {"status": "error", "message": "no contact"})


def test_failure_callback_logs_the_reason_and_counts_gate_failures(monkeypatch, caplog):
    import airflow.sdk.observability.stats as stats
    from wikivis_airflow.callbacks import task_failed

    from wikivis.errors import GateFailed

    counted: list[tuple[str, dict]] = []
    monkeypatch.setattr(stats, "incr", lambda metric, tags=None: counted.append((metric, tags)))
    ti = SimpleNamespace(dag_id="wikivis_nightly", task_id="gate_tables", map_index=0, try_number=1, run_id="r1")
    task_failed({"ti": ti, "exception": GateFailed("12% dangling files", gate="dangling_files")})
    assert "wikivis task failed: dag=wikivis_nightly run=r1 task=gate_tables[0] try=1 GateFailed: 12% dangling" in caplog.text
    assert counted == [
        ("wikivis.task_failed", {"dag_id": "wikivis_nightly", "task_id": "gate_tables"}),
        ("wikivis.gate_failed", {"dag_id": "wikivis_nightly", "gate": "dangling_files"}),
    ]


def test_deadline_callback_is_async_and_counts(monkeypatch, caplog):
    import airflow.sdk.observability.stats as stats
    from wikivis_airflow.callbacks import deadline_missed

    counted: list[str] = []
    monkeypatch.setattr(stats, "incr", lambda metric, tags=None: counted.append(metric))
    asyncio.run(deadline_missed(dag_id="wikivis_nightly", deadline="12:00:00", context={"dag_run": {"run_id": "r1"}}))
    assert "wikivis deadline missed: dag=wikivis_nightly run=r1 deadline=12:00:00" in caplog.text
    assert counted == ["wikivis.deadline_missed"]
