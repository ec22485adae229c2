"""Cluster policy for a Kubernetes deployment: GPU tasks run as GPU pods.

Install as ``$AIRFLOW_HOME/config/airflow_local_settings.py`` (with the official Helm chart:
``--set-file airflowLocalSettings=deploy/k8s/airflow_local_settings.py``).  Every task on the
Celery queue ``gpu`` (the ``embed`` task) is sent to the ``KubernetesExecutor`` (Airflow 3's
multiple executors: ``executor = CeleryExecutor,KubernetesExecutor``) with
``gpu_pod_override.yaml`` as its ``pod_override``; every other task stays on the Celery
workers.  The DAGs do not change.

The override is read from beside this file, else from the copy the wikivis image carries
(``/opt/wikivis/deploy/k8s/``, see the Dockerfile), and turned into a ``V1Pod`` by the
cncf.kubernetes provider (part of the apache/airflow image).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

GPU_QUEUE = "gpu"
GPU_EXECUTOR = "KubernetesExecutor"
OVERRIDE_PATHS = (Path(__file__).with_name("gpu_pod_override.yaml"),
                  Path("/opt/wikivis/deploy/k8s/gpu_pod_override.yaml"))


@cache
def gpu_pod_override() -> Any:
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

    path = next((p for p in OVERRIDE_PATHS if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"gpu_pod_override.yaml not found in {[str(p) for p in OVERRIDE_PATHS]}")
    return PodGenerator.deserialize_model_file(str(path))


def _set(task: Any, name: str, value: Any) -> None:
    """A mapped task (``embed`` is mapped over the wikis) keeps these in ``partial_kwargs``:
    its ``executor`` and ``executor_config`` properties have no setter."""
    partial = getattr(task, "partial_kwargs", None)
    if isinstance(partial, dict):
        partial[name] = value
    else:
        setattr(task, name, value)


def task_policy(task: Any) -> None:
    if task.queue != GPU_QUEUE:
        return
    _set(task, "executor", GPU_EXECUTOR)
    _set(task, "executor_config", {**(task.executor_config or {}), "pod_override": gpu_pod_override()})
