"""DAG tests: a private, migrated Airflow home for the whole session (see airflow_env.py)."""

from __future__ import annotations

import os

import pytest

from tests.dags import airflow_env

airflow_env.configure()  # before anything imports airflow


@pytest.fixture(scope="session")
def airflow_db() -> None:
    airflow_env.migrate()


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(airflow_env.DAGS_FOLDER))


@pytest.fixture
def use_settings(monkeypatch, tmp_path_factory):
    """Give the DAGs' tasks these settings for this test, the way a deployment does: a TOML
    file named by Airflow's ``[wikivis] config_file`` option (each task reads it)."""
    from wikivis.config import settings_toml

    def use(settings):
        path = tmp_path_factory.mktemp("wikivis-config") / "wikivis.toml"
        path.write_text(settings_toml(settings), encoding="utf-8")
        monkeypatch.setenv("AIRFLOW__WIKIVIS__CONFIG_FILE", str(path))
        for name in [k for k in os.environ if k.startswith("WIKIVIS_")]:
            monkeypatch.delenv(name)  # the file, not the test runner's variables
        return settings

    return use
