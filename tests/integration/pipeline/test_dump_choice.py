"""A nightly run takes the newest complete dump on or before its date (dumps come twice a month)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def staged(mirror, tmp_path):
    from wikivis import pipeline

    pipeline.use_settings(mirror.settings(home=tmp_path / "home"))
    yield pipeline
    pipeline.use_settings(None)


def test_wait_for_dump_accepts_an_older_complete_run(staged, sample_wiki):
    first, last = sample_wiki.dates[0], sample_wiki.dates[-1]
    assert staged.wait_for_dump("samplewiki", first)
    assert staged.wait_for_dump("samplewiki", "20261231")
    assert not staged.wait_for_dump("samplewiki", "20261001")  # before any run
    assert staged.wait_for_dump_exact("samplewiki", first)
    assert not staged.wait_for_dump_exact("samplewiki", "20261231")
    assert last <= "20261231"


def test_ingest_falls_back_to_the_newest_run_before_the_date(staged, sample_wiki):
    complete = [d for d in sample_wiki.dates if staged.wait_for_dump_exact("samplewiki", d)]
    out = staged.ingest("samplewiki", "20261231", run_id="fallback-test")
    assert out["snapshot"] == max(complete)
