"""The catalog against the machine's PostgreSQL on loopback (URL from WIKIVIS_TEST_POSTGRES_URL)."""

import pytest

from tests.unit.catalog.test_catalog import exercise
from wikivis.catalog import Catalog
from wikivis.testing import scratch_postgres_schema

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_schema_url():
    with scratch_postgres_schema("wv") as url:
        yield url


def test_postgres_catalog(pg_schema_url):
    catalog = Catalog(pg_schema_url)
    assert catalog.revision() == "0001"
    exercise(catalog)
    catalog.dispose()
