"""The catalog against the machine's PostgreSQL on loopback (URL from WIKIVIS_TEST_POSTGRES_URL)."""

import uuid

import pytest
import sqlalchemy as sa

from tests.unit.core.test_catalog import exercise
from wikivis.catalog import Catalog
from wikivis.testing import engine_or_skip, postgres_url

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_schema_url():
    base = postgres_url()
    engine = engine_or_skip(base, "PostgreSQL")
    schema = f"wv_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def test_postgres_catalog(pg_schema_url):
    catalog = Catalog(pg_schema_url)
    assert catalog.revision() == "0001"
    exercise(catalog)
    catalog.dispose()
