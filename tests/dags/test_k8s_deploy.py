"""The Kubernetes deployment files (deploy/k8s, deploy/helm): the pod template and the GPU
``pod_override`` are valid Pods, the GPU override asks for a GPU on GPU nodes, the Helm values
wire the same volume and executors, and the cluster policy sends exactly the ``gpu``-queue
tasks of the real DAGs to the KubernetesExecutor with that override.

No cluster and no ``kubernetes`` client here: the Pods are validated with ``jsonschema``
against the vendored ``tests/data/k8s-pod.schema.json`` (a closed subset of core/v1 Pod, see
its ``$comment``), and the policy's one call into the cncf.kubernetes provider
(``PodGenerator.deserialize_model_file``) is replaced by a YAML load.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import types

import jsonschema
import pytest
import yaml

from tests.dags.airflow_env import REPO

pytestmark = pytest.mark.dags

K8S = REPO / "deploy" / "k8s"
POD_TEMPLATE = K8S / "pod_template.yaml"
GPU_OVERRIDE = K8S / "gpu_pod_override.yaml"
POLICY = K8S / "airflow_local_settings.py"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
SCHEMA = REPO / "tests" / "data" / "k8s-pod.schema.json"
GPU = "nvidia.com/gpu"


@pytest.fixture(scope="module")
def schema() -> dict:
    data = json.loads(SCHEMA.read_text("utf-8"))
    jsonschema.Draft7Validator.check_schema(data)
    return data


def _errors(schema: dict, document: dict, definition: str | None = None) -> list[str]:
    if definition is not None:
        schema = {**schema, "$ref": f"#/definitions/{definition}"}
        schema.pop("required"), schema.pop("properties"), schema.pop("additionalProperties")
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def _load(path) -> dict:
    return yaml.safe_load(path.read_text("utf-8"))


def _base(pod: dict) -> dict:
    [base] = [c for c in pod["spec"]["containers"] if c["name"] == "base"]
    return base


@pytest.mark.parametrize("path", [POD_TEMPLATE, GPU_OVERRIDE], ids=lambda p: p.name)
def test_pod_files_are_valid_pods(schema, path):
    assert _errors(schema, _load(path)) == []


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda pod: pod["spec"].update(nodeSelecter={"a": "b"}), "spec"),  # misspelt field
        (lambda pod: _base(pod)["resources"]["limits"].update({GPU: "one"}), "resources/limits"),
        (lambda pod: pod["spec"]["tolerations"][0].update(operator="Equals"), "tolerations/0/operator"),
        (lambda pod: _base(pod).update(name="Base"), "containers/0/name"),
    ],
)
def test_the_schema_catches_mistakes(schema, mutate, where):
    pod = copy.deepcopy(_load(GPU_OVERRIDE))
    mutate(pod)
    assert any(where in error for error in _errors(schema, pod)), _errors(schema, pod)


def test_the_pod_template_runs_the_task_container_on_the_shared_volume():
    pod = _load(POD_TEMPLATE)
    base = _base(pod)  # Airflow puts the task command into the container named "base"
    env = {e["name"]: e.get("value") for e in base["env"]}
    assert "KubernetesExecutor" in env["AIRFLOW__CORE__EXECUTOR"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in base["volumeMounts"]}
    assert set(mounts) <= set(volumes)
    assert mounts["wikivis-data"] == env["WIKIVIS_HOME"]
    assert volumes["wikivis-data"]["persistentVolumeClaim"]["claimName"] == "wikivis-data"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert GPU not in base["resources"].get("limits", {})  # CPU tasks never hold a GPU


def test_the_gpu_override_asks_for_one_gpu_on_gpu_nodes():
    pod = _load(GPU_OVERRIDE)
    base = _base(pod)
    resources = base["resources"]
    assert resources["limits"][GPU] == resources["requests"][GPU] == "1"  # extended resources: requests == limits
    assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    assert {"name": "WIKIVIS_DEVICE", "value": "cuda"} in base["env"]


def test_helm_values_wire_the_executors_the_volume_and_the_pod_template(schema):
    values = _load(HELM_VALUES)
    assert values["executor"].split(",") == ["CeleryExecutor", "KubernetesExecutor"]  # Celery is the default
    assert values["airflowVersion"] == "3.3.2" == values["defaultAirflowTag"]
    env = {e["name"]: e["value"] for e in values["env"]}
    for component in ("workers", "apiServer"):
        for volume in values[component]["extraVolumes"]:
            assert _errors(schema, volume, "Volume") == [], component
        mounts = values[component]["extraVolumeMounts"]
        for mount in mounts:
            assert _errors(schema, mount, "VolumeMount") == [], component
        assert {m["mountPath"] for m in mounts if m["name"] == "wikivis-data"} == {env["WIKIVIS_HOME"]}
    for source in yaml.safe_load(values["extraEnvFrom"]):
        assert _errors(schema, source, "EnvFromSource") == []
    assert values["workers"]["keda"]["enabled"] is True
    assert values["dagProcessor"]["enabled"] is True and values["triggerer"]["replicas"] >= 1
    assert values["postgresql"]["enabled"] is False and values["data"]["metadataSecretName"]
    # the KubernetesExecutor's pods run the same settings as the Celery workers
    assert _base(_load(POD_TEMPLATE))["env"][1] == {"name": "WIKIVIS_HOME", "value": env["WIKIVIS_HOME"]}


@pytest.fixture
def policy(monkeypatch):
    """deploy/k8s/airflow_local_settings.py with the provider's YAML → V1Pod call stubbed."""
    loaded: list[str] = []

    class PodGenerator:
        @staticmethod
        def deserialize_model_file(path: str) -> dict:
            loaded.append(path)
            return yaml.safe_load(open(path, encoding="utf-8"))

    module = types.ModuleType("airflow.providers.cncf.kubernetes.pod_generator")
    module.PodGenerator = PodGenerator  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow.providers.cncf.kubernetes.pod_generator", module)
    spec = importlib.util.spec_from_file_location("wikivis_test_local_settings", POLICY)
    assert spec is not None and spec.loader is not None
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    settings.loaded = loaded
    return settings


def test_the_cluster_policy_sends_only_gpu_tasks_to_kubernetes(dagbag, policy):
    changed = {}
    for dag_id in ("wikivis_nightly", "wikivis_backfill"):
        for task in copy.deepcopy(dagbag.dags[dag_id]).tasks:
            before = (getattr(task, "executor", None), copy.deepcopy(task.executor_config))
            policy.task_policy(task)
            if (getattr(task, "executor", None), task.executor_config) != before:
                changed[(dag_id, task.task_id)] = task
    assert {task_id for _, task_id in changed} == {"embed"}
    for task in changed.values():
        assert task.queue == "gpu" and task.executor == "KubernetesExecutor"
        override = task.executor_config["pod_override"]
        assert _base(override)["resources"]["limits"][GPU] == "1"
    assert policy.loaded == [str(GPU_OVERRIDE)]  # read once (cached), from beside the policy
