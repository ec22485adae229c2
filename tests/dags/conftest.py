"""DAG tests: a private, migrated Airflow home for the whole session (see airflow_env.py)."""

from __future__ import annotations

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
def use_settings():
    """Make the pipeline's stages use given settings for this test (reset afterwards)."""
    from wikivis import pipeline

    yield pipeline.use_settings
    pipeline.use_settings(None)
