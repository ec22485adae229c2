"""A throwaway Airflow installation for the test process (shared by tests/dags and
tests/integration/airflow).

Airflow reads its configuration when ``airflow`` is first imported, so :func:`configure`
must run before that: the conftests call it at import time.  It points ``AIRFLOW_HOME`` at a
fresh temporary directory (SQLite metadata DB, the repository's ``dags/`` and ``plugins/``,
simple auth manager with one admin whose password we choose), once per process.
:func:`migrate` then creates the metadata tables (``airflow db migrate`` in a subprocess,
~5 s) and the wikivis pools.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "wikivis-test-admin"

_home: Path | None = None
_migrated = False


def configure() -> Path:
    """Set the process environment for a private Airflow home (idempotent); return the home."""
    global _home
    if _home is not None:
        return _home
    home = Path(tempfile.mkdtemp(prefix="wikivis-airflow-home-"))
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({ADMIN_USER: ADMIN_PASSWORD}))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
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
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    if str(PLUGINS_FOLDER) not in sys.path:
        sys.path.insert(0, str(PLUGINS_FOLDER))
    _home = home
    return home


def migrate() -> None:
    """Create the metadata DB (once per process) and the pools the DAGs use."""
    global _migrated
    if _migrated:
        return
    configure()
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=os.environ.copy(), capture_output=True, text=True,
        check=False, timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    from airflow.models.pool import Pool
    from wikivis_airflow.defaults import POOLS

    for name, (slots, description) in POOLS.items():
        Pool.create_or_update_pool(name, slots=slots, description=description, include_deferred=False)
    _migrated = True
