"""The nightly ingest follows each wiki's source setting: ``auto`` reads the replica through
the given engine factory (the Airflow hook's ``get_conn`` in the DAG) and the dumps without
one; both give the same datasets for the same day."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_auto_source_uses_the_replica_when_a_connection_exists(mirror, sample_wiki, tmp_path):
    import sqlalchemy as sa

    from wikivis.lake import Lake
    from wikivis.mirror.replica_loader import load_replica
    from wikivis.stages.ingest import ingest
    from wikivis.stages.run import RunContext

    wiki, day = sample_wiki.wiki, sample_wiki.n_days
    date = sample_wiki.dates[day]
    replica_settings = mirror.settings(home=tmp_path / "replica", ingest_sources=(f"{wiki}=auto",))
    for name, tables in sample_wiki.state(day).wiki_tables.items():
        load_replica(tables, replica_settings.replica_url(name), name)
    made: list[str] = []

    def factory(name: str) -> sa.Engine:
        made.append(name)
        return sa.create_engine(replica_settings.replica_url(name))

    replica_ctx = RunContext.open(replica_settings, "r-replica")
    assert ingest(replica_ctx, wiki, date, engine_factory=factory)["source"] == "replica"
    dumps_settings = mirror.settings(home=tmp_path / "dumps", ingest_sources=(f"{wiki}=auto",))
    dumps_ctx = RunContext.open(dumps_settings, "r-dumps")
    assert ingest(dumps_ctx, wiki, date)["source"] == "dumps"
    assert made == [wiki, sample_wiki.commons_wiki]
    # both branches record every snapshot they wrote in the catalog
    for ctx in (replica_ctx, dumps_ctx):
        recorded = {(s["dataset"], s["wiki"]) for s in ctx.catalog.snapshots() if s["snapshot"] == date}
        assert {(d, wiki) for d in ("pages", "article_images", "article_categories", "article_items")} <= recorded
        assert ("files", sample_wiki.commons_wiki) in recorded
    replica, dumps = Lake.from_settings(replica_settings), Lake.from_settings(dumps_settings)
    for dataset in ("pages", "article_images", "article_categories", "article_items"):
        assert replica.read(dataset, wiki, date).equals(dumps.read(dataset, wiki, date)), dataset
