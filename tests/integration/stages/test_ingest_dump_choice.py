"""A nightly run takes the newest complete dump on or before its date (dumps come twice a month)."""

from __future__ import annotations

import pytest

from wikivis.stages.ingest import ingest, wait_for_dump, wait_for_dump_exact
from wikivis.stages.run import RunContext

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(mirror, tmp_path):
    return mirror.settings(home=tmp_path / "home")


def test_wait_for_dump_accepts_an_older_complete_run(settings, sample_wiki):
    first, last = sample_wiki.dates[0], sample_wiki.dates[-1]
    assert wait_for_dump(settings, "samplewiki", first)
    assert wait_for_dump(settings, "samplewiki", "20261231")
    assert not wait_for_dump(settings, "samplewiki", "20261001")  # before any run
    assert wait_for_dump_exact(settings, "samplewiki", first)
    assert not wait_for_dump_exact(settings, "samplewiki", "20261231")
    assert last <= "20261231"


def test_ingest_falls_back_to_the_newest_run_before_the_date(settings, sample_wiki):
    complete = [d for d in sample_wiki.dates if wait_for_dump_exact(settings, "samplewiki", d)]
    out = ingest(RunContext.open(settings, "fallback-test"), "samplewiki", "20261231")
    assert out["snapshot"] == max(complete)
