"""A private, throw-away Airflow installation for the demo and the test suite.

Airflow reads its configuration when ``airflow`` is first imported, so :func:`configure`
must run before that.  It points ``AIRFLOW_HOME`` at a directory of ours (SQLite metadata
DB, the repository's ``dags/`` and ``plugins/``, the simple auth manager with one admin whose
password we choose) and :func:`migrate` creates the metadata tables (``airflow db migrate`` in
a subprocess, ~5 s) and the pools the DAGs use.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"
ADMIN_USER = "admin"

_home: Path | None = None
_migrated = False


def configure(home: Path | None = None, *, admin_password: str | None = None, unit_test_mode: bool = True,
              log_level: str = "WARNING", wikivis_config: Path | None = None) -> Path:
    """Set this process's environment for a private Airflow home (idempotent); return it.

    ``wikivis_config``: the wikivis settings file the tasks read (Airflow option
    ``[wikivis] config_file``, see ``wikivis_airflow.hooks.deployment_settings``)."""
    global _home
    if _home is not None:
        return _home
    home = Path(home) if home else Path(tempfile.mkdtemp(prefix="wikivis-airflow-home-"))
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({ADMIN_USER: admin_password or secrets.token_urlsafe(12)}))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__UNIT_TEST_MODE": str(unit_test_mode),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": log_level,
            **({"AIRFLOW__WIKIVIS__CONFIG_FILE": str(wikivis_config)} if wikivis_config else {}),
        }
    )
    if str(PLUGINS_FOLDER) not in sys.path:
        sys.path.insert(0, str(PLUGINS_FOLDER))
    _home = home
    return home


def admin_password() -> str:
    if _home is None:
        raise RuntimeError("call configure() first")
    return str(json.loads((_home / "simple_auth_manager_passwords.json").read_text())[ADMIN_USER])


def migrate() -> None:
    """Create the metadata DB (once per process) and the pools the DAGs use."""
    global _migrated
    if _migrated:
        return
    configure()
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=os.environ.copy(), capture_output=True, text=True,
        check=False, timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    from airflow.models.pool import Pool
    from wikivis_airflow.defaults import POOLS

    for name, (slots, description) in POOLS.items():
        Pool.create_or_update_pool(name, slots=slots, description=description, include_deferred=False)
    _migrated = True


def run_dag_test(dag: Any, **kwargs: Any) -> Any:
    """``dag.test`` without the DAG's deadline alerts: in Airflow 3.3.2 ``dag.test`` crashes when a
    run with a ``DeadlineAlert`` *succeeds* (``DagRun.update_state`` looks the alerts up by id, but
    ``dag.test``'s re-serialized DAG holds them as dicts).  The scheduler path is not affected;
    the alerts themselves are checked by the DAG integrity tests."""
    deadline = dag.deadline
    dag.deadline = None
    try:
        return dag.test(**kwargs)
    finally:
        dag.deadline = deadline
