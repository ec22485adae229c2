"""The publication log: concurrent publishers never drop each other's datasets."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from wikivis.lake.publications import PUBLICATIONS, PublicationConflict, PublicationLog


@pytest.fixture
def log(tmp_path) -> PublicationLog:
    return PublicationLog(sa.create_engine(f"sqlite:///{tmp_path / 'catalog.sqlite'}"))


def entry(sid: int) -> dict[str, object]:
    return {"label": f"l{sid}", "snapshot_id": sid}


def test_a_publisher_that_read_a_stale_latest_merges_again(log, monkeypatch):
    log.record("w", {"pages": entry(1)}, run_id="r0", kind="publish")
    stale = log.latest("w")
    log.record("w", {"article_images": entry(2)}, run_id="nightly", kind="publish")
    reads = iter([stale])
    fresh = PublicationLog.latest
    # the backfill read the latest row before the nightly inserted its own
    monkeypatch.setattr(PublicationLog, "latest", lambda self, wiki: next(reads, None) or fresh(self, wiki))

    merged = log.record("w", {"pages": entry(3)}, run_id="backfill", kind="publish")

    assert merged.datasets == {"pages": entry(3), "article_images": entry(2)}
    assert [p.run_id for p in log.history("w")] == ["backfill", "nightly", "r0"]


def test_expect_refuses_to_publish_over_a_newer_publication(log):
    log.record("w", {"pages": entry(1)}, run_id="r0", kind="publish")
    log.record("w", {"pages": entry(2)}, run_id="r1", kind="publish")
    with pytest.raises(PublicationConflict, match="pages"):
        log.record("w", {"pages": entry(9)}, run_id="compact-w", kind="compact", expect={"pages": 1})
    assert log.latest("w").snapshot_id("pages") == 2
    assert log.record("w", {"pages": entry(9)}, run_id="compact-w", kind="compact", expect={"pages": 2}).id


def test_a_table_written_before_parent_links_is_upgraded(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE wikivis_publications (id INTEGER PRIMARY KEY AUTOINCREMENT, wiki VARCHAR(64) NOT NULL,"
            " run_id VARCHAR(200), kind VARCHAR(16) NOT NULL, created_at VARCHAR(32) NOT NULL, datasets TEXT NOT NULL)"))
        for wiki, sid in [("a", 1), ("b", 2), ("a", 3)]:
            conn.execute(sa.text(
                "INSERT INTO wikivis_publications (wiki, run_id, kind, created_at, datasets)"
                " VALUES (:w, 'r', 'publish', '2026-12-01T00:00:00+00:00', :d)"),
                {"w": wiki, "d": json.dumps({"pages": entry(sid)})})

    log = PublicationLog(engine)

    with engine.connect() as conn:
        parents = conn.execute(sa.select(PUBLICATIONS.c.id, PUBLICATIONS.c.parent_id).order_by("id")).all()
    assert [tuple(p) for p in parents] == [(1, 0), (2, 0), (3, 1)]
    assert log.record("a", {"files": entry(4)}, run_id="r", kind="publish").datasets == {
        "pages": entry(3), "files": entry(4)}
    PublicationLog(engine)  # a second open finds the upgraded table
