"""The dump path and the replica path give identical datasets for the sample wiki.

Dump path: the mirror serves the sample's SQL dumps → :func:`wikivis.dumps.ingest.ingest`.
Replica path: the same day's tables loaded into the loopback MariaDB → :func:`pull`.
Both write through :meth:`Lake.write` (sorted, same schema), so equal tables give equal
files: the manifests' content hashes must match.
"""

from __future__ import annotations

import pytest

from tests.integration.replica_databases import replica_url_template
from wikivis.lake import Lake
from wikivis.stages.ingest import pull_replica as pull

pytestmark = pytest.mark.integration

WIKI, COMMONS = "samplewiki", "commonswiki"


@pytest.mark.parametrize("day", [0, 5])
def test_dump_path_and_replica_path_give_identical_datasets(day, mirror, sample_wiki, load, db_prefix, tmp_path):
    ingest = pytest.importorskip("wikivis.dumps.ingest").ingest
    settings = mirror.settings(home=tmp_path / "home", replica_url_template=replica_url_template(db_prefix))
    date = sample_wiki.dates[day]

    dumps_lake = Lake(tmp_path / "dumps-lake")
    ingested = ingest(settings, WIKI, date, lake=dumps_lake)
    assert ingested.snapshot == date

    load(sample_wiki.state(day).tables_for(WIKI), WIKI)
    load(sample_wiki.state_for_date(ingested.commons_snapshot).tables_for(COMMONS), COMMONS)
    replica_lake = Lake(tmp_path / "replica-lake")
    pulled = pull(settings, WIKI, date, lake=replica_lake)

    assert pulled.rows == ingested.rows
    assert min(pulled.rows.values()) > 0
    for dataset in ("pages", "article_images", "article_categories"):
        assert replica_lake.read(dataset, WIKI, date).equals(dumps_lake.read(dataset, WIKI, date)), dataset
    files_from_replica = replica_lake.read("files", COMMONS, date)
    assert files_from_replica.equals(dumps_lake.read("files", COMMONS, ingested.commons_snapshot))
    for dataset, manifest in pulled.manifests.items():
        assert manifest.content_hash == ingested.manifests[dataset].content_hash, dataset
