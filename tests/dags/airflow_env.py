"""The test process's private Airflow installation (shared by tests/dags and
tests/integration/airflow): :mod:`wikivis.airflow_home` with a password the tests know.

Airflow reads its configuration when ``airflow`` is first imported, so the conftests call
:func:`configure` at import time.
"""

from __future__ import annotations

from pathlib import Path

from wikivis import airflow_home
from wikivis.airflow_home import ADMIN_USER, DAGS_FOLDER, PLUGINS_FOLDER, REPO, migrate

ADMIN_PASSWORD = "wikivis-test-admin"

__all__ = ["ADMIN_PASSWORD", "ADMIN_USER", "DAGS_FOLDER", "PLUGINS_FOLDER", "REPO", "configure", "migrate"]


def configure() -> Path:
    return airflow_home.configure(admin_password=ADMIN_PASSWORD)
