"""docker-compose.yml and Dockerfile: valid against the Compose Specification schema, and
shaped as the DAGs need (CeleryExecutor, a GPU worker on the ``gpu`` queue, the pools).

No Docker engine is needed: the file is validated with ``jsonschema`` against the vendored
``tests/data/compose-spec.json`` (compose-spec, Apache-2.0; see its ``$comment``).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.dags.airflow_env import REPO

pytestmark = pytest.mark.dags

COMPOSE = REPO / "docker-compose.yml"
SCHEMA = REPO / "tests" / "data" / "compose-spec.json"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-worker-gpu",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text("utf-8"))


#: Compose durations are Go-style (``1m30s``), not ISO 8601, so the schema's ``duration``
#: format gets its own checker; the other compose-specific formats are left unchecked.
_COMPOSE_DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft201909Validator:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    jsonschema.Draft201909Validator.check_schema(schema)
    formats = jsonschema.FormatChecker(formats=())
    formats.checks("duration")(lambda value: not isinstance(value, str) or bool(_COMPOSE_DURATION.fullmatch(value)))
    return jsonschema.Draft201909Validator(schema, format_checker=formats)


def _errors(validator: jsonschema.Draft201909Validator, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_matches_the_compose_spec(validator, compose):
    assert _errors(validator, compose) == []


def test_the_validator_rejects_an_unknown_key_and_a_bad_duration(validator, compose):
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-apiserver"]["bogus_key"] = True
    broken["services"]["redis"]["healthcheck"]["interval"] = "ten seconds"
    errors = _errors(validator, broken)
    assert len(errors) == 2
    assert any("bogus_key" in e for e in errors)
    assert any(e.startswith("services/redis/healthcheck/interval") for e in errors)


def test_stack_has_the_official_services_and_celery(compose):
    services = compose["services"]
    assert {"postgres", "redis"} | AIRFLOW_SERVICES <= set(services)
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?"), name
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"


def test_cpu_worker_is_scalable(compose):
    worker = compose["services"]["airflow-worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"].startswith("celery worker")


def test_gpu_worker_reserves_an_nvidia_gpu_and_serves_the_gpu_queue(compose):
    from wikivis_airflow.defaults import GPU_QUEUE

    worker = compose["services"]["airflow-worker-gpu"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert re.search(rf"--queues {GPU_QUEUE}\b", worker["command"])
    assert worker["build"]["args"]["TORCH_VARIANT"].startswith("${WIKIVIS_TORCH_CUDA")


def test_init_creates_the_pools_the_dags_use(compose):
    from wikivis_airflow.defaults import POOLS

    script = "\n".join(compose["services"]["airflow-init"]["command"])
    for name, (slots, _) in POOLS.items():
        assert re.search(rf"airflow pools set {name} {slots} ", script), name


def test_dockerfile_builds_on_the_airflow_image_with_the_project_constraints():
    dockerfile = (REPO / "Dockerfile").read_text("utf-8")
    assert "ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11" in dockerfile
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", dockerfile, re.MULTILINE)
    assert "ARG TORCH_VARIANT=cpu" in dockerfile
    assert "constraints.txt" in dockerfile
    assert Path(REPO / "constraints.txt").is_file()
