"""The sample wiki: determinism, schema, realism knobs, and the events ⇄ states contract."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from wikivis.sample import generate
from wikivis.sample.model import COLUMNS
from wikivis.sample.replay import events_between, refresh, resolve, touched_from_events

PARAMS = {"seed": 3, "n_articles": 60, "n_files": 80, "n_days": 3}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    return generate(**PARAMS, cache_dir=tmp_path_factory.mktemp("sample-cache"))


def test_same_seed_is_byte_identical_in_a_fresh_process(sample, tmp_path: Path) -> None:
    # a new process (new hash salt) and an empty cache (images rendered again)
    code = (
        "import json,sys; from wikivis.sample import generate; "
        "print(generate(**json.loads(sys.argv[1]), cache_dir=sys.argv[2]).digest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(PARAMS), str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == sample.digest()


def test_other_seed_differs(sample, tmp_path: Path) -> None:
    other = generate(**{**PARAMS, "seed": 4}, cache_dir=tmp_path)
    assert other.digest() != sample.digest()


def test_tables_use_current_mediawiki_columns(sample) -> None:
    state = sample.state(0)
    assert set(state.tables) == {"page", "linktarget", "imagelinks", "page_props", "categorylinks", "image"}
    for name, rows in state.tables.items():
        assert rows, name
        assert all(tuple(r) == COLUMNS[name] for r in rows), name
    assert "il_to" not in COLUMNS["imagelinks"]
    assert "cl_to" not in COLUMNS["categorylinks"]
    commons = state.tables_for("commonswiki")
    assert {r["cl_type"] for r in commons["categorylinks"]} == {"file"}
    # every link resolves through linktarget in the right namespace
    lt = {r["lt_id"]: r for r in state.tables["linktarget"]}
    assert all(lt[r["il_target_id"]]["lt_namespace"] == 6 for r in state.tables["imagelinks"])
    assert all(lt[r["cl_target_id"]]["lt_namespace"] == 14 for r in state.tables["categorylinks"])
    # img_sha1 is base-36 of the bytes' SHA-1, 31 chars
    from wikivis.datasets import base36_to_hex

    row = state.tables["image"][0]
    assert len(row["img_sha1"]) == 31
    assert base36_to_hex(row["img_sha1"]) == sample.file_sha1(row["img_name"], 0)


def test_realism_knobs(sample) -> None:
    state = sample.state(0)
    pages = {r["page_id"]: r for r in state.tables["page"]}
    used = Counter(r["il_target_id"] for r in state.tables["imagelinks"])
    lt = {r["lt_id"]: r["lt_title"] for r in state.tables["linktarget"]}
    top = [lt[t] for t, _ in used.most_common(5)]
    assert any(n.startswith("Flag_of_") or n in sample.shared_icons for n in top)  # over-used icons
    articles = [p for p in pages.values() if p["page_namespace"] == 0 and not p["page_is_redirect"]]
    with_images = {r["il_from"] for r in state.tables["imagelinks"]}
    assert any(p["page_id"] not in with_images for p in articles)  # unillustrated articles
    assert any(p["page_is_redirect"] for p in pages.values())
    assert {r["il_from_namespace"] for r in state.tables["imagelinks"]} >= {0, 2, 4}
    props = Counter(r["pp_propname"] for r in state.tables["page_props"])
    assert props["page_image"] >= props["page_image_free"] > 0
    non_free = [n for n, i in sample.file_info.items() if i["non_free"]]
    assert non_free
    assert all(sample.file_info[n]["licence_short_name"] == "Fair use" for n in non_free)
    assert any(i["depicts"] for i in sample.file_info.values())
    assert any(any(ord(c) > 127 or c in "'\"\\" for c in p["page_title"]) for p in pages.values())
    formats = Counter(i["format"] for i in sample.file_info.values())
    assert formats["jpeg"] > 0
    assert formats["png"] > 0
    assert formats["svg"] > 0


def test_images_decode_and_match_their_rows(sample) -> None:
    for row in sample.state(sample.n_days).tables["image"][:40]:
        data = sample.file_bytes(row["img_name"])
        assert len(data) == row["img_size"]
        if row["img_minor_mime"] == "svg+xml":
            assert data.startswith(b"<?xml")
            assert b"<svg" in data
            assert sample.file_image(row["img_name"]).size == (row["img_width"], row["img_height"])
        else:
            with Image.open(io.BytesIO(data)) as img:
                assert img.size == (row["img_width"], row["img_height"])
                assert img.format.lower() == row["img_minor_mime"]


def test_same_topic_images_look_alike(sample) -> None:
    """Mean colour is closer within a topic than across topics (a recommender has signal)."""
    import numpy as np

    by_topic: dict[str, list] = {}
    for name, info in sorted(sample.file_info.items()):
        if info["topic"] in ("birds", "ships", "flowers") and info["format"] == "jpeg":
            img = Image.open(io.BytesIO(sample.file_bytes(name))).convert("RGB").resize((16, 16))
            by_topic.setdefault(info["topic"], []).append(np.asarray(img, dtype=float).reshape(-1, 3).mean(0))
    centroids = {t: np.mean(v, axis=0) for t, v in by_topic.items()}
    hits = total = 0
    for topic, vectors in by_topic.items():
        for v in vectors:
            nearest = min(centroids, key=lambda t: np.linalg.norm(v - centroids[t]))
            hits += nearest == topic
            total += 1
    assert hits / total > 0.8


def test_events_are_shaped_like_eventstreams(sample) -> None:
    events = sample.events
    assert [e["meta"]["dt"] for e in events] == sorted(e["meta"]["dt"] for e in events)
    assert len({e["meta"]["id"] for e in events}) == len(events)
    streams = Counter(e["meta"]["stream"] for e in events)
    for stream in (
        "mediawiki.revision-create",
        "mediawiki.page-properties-change",
        "mediawiki.page-delete",
        "mediawiki.page-undelete",
        "mediawiki.page-move",
        "mediawiki.recentchange",
    ):
        assert streams[stream] > 0, stream
    for e in events:
        meta = e["meta"]
        assert meta["topic"] == f"eqiad.{meta['stream']}"
        assert meta["partition"] == 0
        assert e["$schema"].startswith("/mediawiki/")
    uploads = [e for e in events if e.get("log_type") == "upload" and e.get("wiki") == "commonswiki"]
    assert {e["log_action"] for e in uploads} == {"upload", "overwrite"}
    assert all(len(e["log_params"]["img_sha1"]) == 31 for e in uploads)
    assert any(e["meta"]["domain"] == "canary" for e in events)
    assert any(e.get("database") == "otherwiki" for e in events)
    first, last = sample.dates[0], sample.dates[-1]
    real = [e for e in events if e["meta"]["domain"] != "canary"]
    assert f"{first[:4]}-{first[4:6]}-{first[6:]}" <= real[0]["meta"]["dt"] < f"{last[:4]}-{last[4:6]}-{last[6:]}"


def test_events_plus_refresh_reproduce_each_day(sample) -> None:
    def day_start(date: str) -> str:
        return f"{date[:4]}-{date[4:6]}-{date[6:]}T00:00:00Z"

    for day in range(1, sample.n_days + 1):
        before, after = sample.state(day - 1), sample.state(day)
        todays = events_between(sample.events, day_start(sample.dates[day - 1]), day_start(sample.dates[day]))
        touched = touched_from_events(todays, sample.wiki, sample.commons_wiki)
        assert touched.pages
        assert touched.files
        old, new = resolve(before.tables), resolve(after.tables)
        assert old != new
        assert refresh(old, new, touched) == new, f"day {day}"
        # link targets are insert-only: ids never change meaning
        lt_old = {r["lt_id"]: r for r in before.tables["linktarget"]}
        lt_new = {r["lt_id"]: r for r in after.tables["linktarget"]}
        assert all(lt_new[k] == v for k, v in lt_old.items())


def test_history_covers_every_kind_of_change(sample) -> None:
    kinds = Counter(c.kind for c in sample.changes)
    for kind in ("edit", "create", "delete", "undelete", "move", "upload", "overwrite", "file_delete"):
        assert kinds[kind] > 0, kind
    overwritten = [c.file_name for c in sample.changes if c.kind == "overwrite"]
    versions = sample.file_versions(overwritten[0])
    assert len(versions) == 2
    assert versions[0][1] != versions[1][1]
    assert sample.file_bytes(overwritten[0], day=0) != sample.file_bytes(overwritten[0])
