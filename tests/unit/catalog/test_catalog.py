from wikivis.catalog import Catalog


def exercise(catalog: Catalog) -> None:
    run = catalog.start_run("nightly", "samplewiki", {"date": "20261101"})
    catalog.record_gate(run, "ingest", "article_images", "schema", "pass", {"rows": 10})
    catalog.record_gate(run, "ingest", "article_images", "referential", "fail", {"missing": 2}, "2 dangling")
    catalog.record_snapshot("article_images", "samplewiki", "20261101", 10, "abc", run)
    catalog.mark_published("article_images", "samplewiki", "20261101")
    catalog.set_checkpoint("eventstreams", "samplewiki", '[{"topic":"x","timestamp":1}]')
    catalog.set_checkpoint("eventstreams", "samplewiki", '[{"topic":"x","timestamp":2}]')
    catalog.finish_run(run, "failed", "gate referential failed", metrics={"http": {"throttled": 1}})

    got = catalog.get_run(run)
    assert got is not None and got["status"] == "failed" and got["metrics"]["http"]["throttled"] == 1
    assert got["duration_s"] is not None and got["duration_s"] >= 0
    outcomes = {g["gate"]: g["outcome"] for g in catalog.gate_results(run)}
    assert outcomes == {"schema": "pass", "referential": "fail"}
    assert catalog.snapshots("article_images")[0]["status"] == "published"
    assert catalog.get_checkpoint("eventstreams", "samplewiki").endswith('"timestamp":2}]')
    assert catalog.get_checkpoint("eventstreams", "otherwiki") is None
    # a retried task reuses its run id
    assert catalog.start_run("nightly", "samplewiki", run_id=run) == run


def test_sqlite_catalog_migrates_and_works(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path}/c.sqlite")
    assert catalog.revision() == "0001"
    exercise(catalog)
    Catalog(f"sqlite:///{tmp_path}/c.sqlite").migrate()  # idempotent


def test_gate_outcomes_are_checked(tmp_path):
    import pytest

    catalog = Catalog(f"sqlite:///{tmp_path}/c.sqlite")
    with pytest.raises(ValueError, match="pass, warn or fail"):
        catalog.record_gate("r", "s", "d", "g", "maybe")
