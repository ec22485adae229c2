"""The Commons client and the thumbnail fetcher against the local mirror (real HTTP on
127.0.0.1): protocol, politeness counters, fault profiles, resume."""

from __future__ import annotations

import hashlib
import io

import pyarrow as pa
import pytest
import requests
from PIL import Image

from wikivis.datasets import schema
from wikivis.errors import SourceError
from wikivis.lake import Lake
from wikivis.media import lists
from wikivis.media.fetch import ThumbnailFetcher, fetch_media, fetch_metadata
from wikivis.media.stage import commons_stage
from wikivis.media.store import MediaStore
from wikivis.sources.commons import ActionApiClient, depicts_query
from wikivis.sources.http import polite_session

pytestmark = pytest.mark.integration

#: files per fetch test: enough for several shards and both connections, fast on 2 cores
N_FILES = 40


def _names(sample, n: int | None = None) -> list[str]:
    names = sorted(r["img_name"] for r in sample.state(sample.n_days).tables["image"])
    return names[:n] if n else names


def _polite(stats: dict) -> None:
    assert stats["peak_concurrency"] <= 2
    assert stats["refused_over_limit"] == 0
    assert stats["bad_user_agent"] == 0
    assert stats["ignored_retry_after"] == 0
    assert stats["nonstandard_widths"] == 0


def test_imageinfo_over_the_transform_cap(mirror_factory, sample_wiki):
    mirror = mirror_factory()
    settings = mirror.settings()
    client = ActionApiClient.from_settings(settings)
    names = _names(sample_wiki, 50)
    mirror.api.transform_limit = 20
    infos = list(client.imageinfo(names, thumb_width=330))
    assert [i.name for i in infos] == names
    assert all(i.problem is None and i.thumb_url and i.sha1 for i in infos)
    assert mirror.stats["api"]["requests"] == 3  # 50 thumbnails, 20 per request
    by_name = {r["img_name"]: r for r in sample_wiki.state(sample_wiki.n_days).tables["image"]}
    for info in infos:
        row = by_name[info.name]
        if row["img_width"] <= 330 and row["img_minor_mime"] != "svg+xml":
            assert info.thumb_url == info.url  # no upscaled bitmap thumbnails: the original
        else:
            assert info.thumb_width == 330


def test_lists_category_and_depicts(mirror, sample_wiki):
    settings = mirror.settings()
    client = ActionApiClient.from_settings(settings)
    commons = sample_wiki.state(sample_wiki.n_days).tables_for(sample_wiki.commons_wiki)
    lt = {r["lt_id"]: r["lt_title"] for r in commons["linktarget"] if r["lt_namespace"] == 14}
    counts: dict[str, int] = {}
    for row in commons["categorylinks"]:
        if row["cl_type"] == "file":
            counts[lt[row["cl_target_id"]]] = counts.get(lt[row["cl_target_id"]], 0) + 1
    category = max(counts, key=lambda c: counts[c])
    files = lists.by_category(client, category, depth=1)
    assert len(files) >= counts[category]
    assert len(files) == len(set(files))
    qid = next(info["depicts"][0] for info in sample_wiki.file_info.values() if info.get("depicts"))
    expected = {n for n, info in sample_wiki.file_info.items() if qid in info.get("depicts", [])}
    current = {r["img_name"] for r in sample_wiki.state(sample_wiki.n_days).tables["image"]}
    assert set(lists.by_depicts(client, qid)) == expected & current
    assert all(t.startswith("File:") for t in client.search_files(depicts_query(qid), limit=3))


def test_fetch_is_polite_verified_and_resumable(mirror_factory, sample_wiki):
    mirror = mirror_factory()
    settings = mirror.settings()
    lake = Lake.from_settings(settings)
    names = _names(sample_wiki)
    small = [n for n in names if n.endswith(".png") and n.startswith(("Map_icon", "Noimage"))]
    meta = fetch_metadata(settings, names[:N_FILES] + small, lake, "20250101")
    summary = fetch_media(settings, meta.table, lake=lake, snapshot="20250101", shard_size=16)
    rows = meta.table.to_pylist()
    free = [r for r in rows if not r["non_free"]]
    assert summary.fetched == len({r["sha1"] for r in free})
    assert summary.failed == {}
    assert summary.skipped_reasons == ({"not_free": len(rows) - len(free)} if len(free) < len(rows) else {})
    _polite(mirror.stats["upload"])
    assert mirror.stats["upload"]["peak_concurrency"] == 2  # and both connections were used
    media = lake.read("media", settings.commons_wiki, "20250101").to_pylist()
    for r in media:
        if r["status"] == "ok":
            with Image.open(settings.media_root / r["path"]) as img:
                img.load()
                assert img.size == (r["width"], r["height"])
    originals = [r for r in rows if r["file_name"] in small]
    for r in originals:  # narrower than 330 px: fetched as the original, checked against the file sha1
        stored = next(m for m in media if m["sha1"] == r["sha1"])
        assert hashlib.sha1((settings.media_root / stored["path"]).read_bytes()).hexdigest() == r["sha1"]

    before = mirror.stats["upload"]["requests"]
    again = fetch_media(settings, meta.table, shard_size=16)
    assert mirror.stats["upload"]["requests"] == before  # nothing requested twice
    assert again.fetched == 0
    assert again.shards_resumed == again.shards


def test_non_standard_width_gets_400_and_is_never_requested(mirror_factory, sample_wiki):
    mirror = mirror_factory()
    settings = mirror.settings()
    meta = fetch_metadata(settings, _names(sample_wiki, 5), None)
    row = next(r for r in meta.table.to_pylist() if "/thumb/" in r["thumb_url"] and not r["non_free"])
    odd_url = row["thumb_url"].replace("/330px-", "/300px-")
    session = requests.Session()
    session.headers["User-Agent"] = settings.user_agent
    direct = session.get(odd_url, timeout=10)
    assert direct.status_code == 400
    assert "w.wiki/GHai" in direct.text
    mirror.reset_stats()
    summary = fetch_media(settings, [row | {"thumb_url": odd_url}])
    assert summary.failed == {"non_standard_width": 1}
    assert mirror.stats["upload"]["requests"] == 0


def test_user_agent_without_contact_gets_403_and_stops(mirror_factory, sample_wiki):
    mirror = mirror_factory()
    settings = mirror.settings()
    meta = fetch_metadata(settings, _names(sample_wiki, 10), None)
    session = polite_session("wikivis/0.1 (no contact given) python-requests/2", pool_size=2, pool_block=True)
    fetcher = ThumbnailFetcher(settings, MediaStore(settings.media_root), session=session)
    with pytest.raises(SourceError, match="403"):
        fetch_media(settings, meta.table, fetcher=fetcher)
    assert 1 <= mirror.stats["upload"]["bad_user_agent"] <= settings.upload_max_concurrency


@pytest.mark.parametrize("profile", ["throttle", "flaky", "truncated", "drops", "maxlag"])
def test_fault_profiles_are_survived_politely(mirror_factory, sample_wiki, profile):
    mirror = mirror_factory(faults={"api" if profile == "maxlag" else "upload": profile})
    mirror.api.maxlag_retry_after = 1
    settings = mirror.settings(http_max_attempts=6)
    meta = fetch_metadata(settings, _names(sample_wiki, 60 if profile == "maxlag" else 10), None)
    summary = fetch_media(settings, meta.table)
    assert summary.failed == {}
    assert summary.fetched + summary.skipped == summary.total
    stats = mirror.stats["upload"]
    assert stats["peak_concurrency"] <= 2
    assert stats["bad_user_agent"] == 0
    assert stats["nonstandard_widths"] == 0
    if profile == "throttle":
        assert stats["throttled_429"] > 0
        assert summary.throttled == stats["throttled_429"]
    if profile == "maxlag":  # lagged answers are HTTP 200 + error maxlag, retried after Retry-After
        assert mirror.stats["api"]["requests"] > 2
        assert mirror.stats["api"]["ignored_retry_after"] == 0


def test_corrupt_payloads_are_recorded_not_stored(mirror_factory, sample_wiki):
    mirror = mirror_factory(faults={"upload": "corrupt"})
    settings = mirror.settings()
    names = [n for n in _names(sample_wiki) if n.endswith(".png")][:12]
    meta = fetch_metadata(settings, names, None)
    summary = fetch_media(settings, meta.table)
    assert summary.failed.get("corrupt", 0) + summary.failed.get("checksum_mismatch", 0) >= 1
    for record in summary.records:
        if record["status"] == "ok":
            with Image.open(io.BytesIO((settings.media_root / record["path"]).read_bytes())) as img:
                img.load()


def test_commons_stage_on_ingested_article_images(mirror_factory, sample_wiki):
    mirror = mirror_factory()
    settings = mirror.settings(max_images=0)
    lake = Lake.from_settings(settings)
    state = sample_wiki.state(sample_wiki.n_days)
    tables = state.tables_for(sample_wiki.wiki)
    targets = {r["lt_id"]: r["lt_title"] for r in tables["linktarget"] if r["lt_namespace"] == 6}
    titles = {r["page_id"]: r["page_title"] for r in tables["page"] if r["page_namespace"] == 0}
    rows = sorted(
        {(r["il_from"], targets[r["il_target_id"]]) for r in tables["imagelinks"] if r["il_from"] in titles}
    )[:30]
    table = pa.Table.from_pylist(
        [{"wiki": sample_wiki.wiki, "page_id": p, "page_namespace": 0, "page_title": titles[p], "file_name": f,
          "is_lead": False} for p, f in rows],
        schema=schema("article_images"),
    )
    lake.write("article_images", sample_wiki.wiki, "20250101", table)
    summary = commons_stage(settings, sample_wiki.wiki, "20250101", lake=lake)
    assert summary.failed == {}
    media = lake.read("media", sample_wiki.wiki, "20250101")
    meta = lake.read("file_metadata", sample_wiki.wiki, "20250101")
    assert media.num_rows == len(set(meta.column("sha1").to_pylist()))
    assert summary.fetched + summary.skipped == summary.total
    _polite(mirror.stats["upload"])


def test_interrupted_run_resumes_without_refetching(mirror_factory, sample_wiki):
    mirror = mirror_factory()
    settings = mirror.settings()
    meta = fetch_metadata(settings, _names(sample_wiki, 30), None)
    seen = []

    def crash_after_ten(row: dict) -> None:
        seen.append(row)
        if len(seen) == 10:
            raise KeyboardInterrupt("operator pressed Ctrl-C")

    with pytest.raises(KeyboardInterrupt):
        fetch_media(settings, meta.table, shard_size=8, on_item=crash_after_ten)
    first = mirror.stats["upload"]["requests"]
    stored = sum(1 for p in settings.media_root.glob("??/*") if p.is_file())
    assert stored == first  # every request that was sent left a complete file (atomic writes)
    summary = fetch_media(settings, meta.table, shard_size=8)
    assert summary.already_present == stored
    assert mirror.stats["upload"]["requests"] == first + summary.fetched  # only what was missing
    assert summary.fetched + summary.already_present + summary.skipped == summary.total


def test_thumbnail_500s_are_deferred_then_failed_with_their_reason(mirror_factory, sample_wiki):
    from wikivis.media.fetch import DEFERRED_RETRIES, plan_work
    from wikivis.mirror.upload import thumb_broken

    mirror = mirror_factory(faults={"upload": "thumb500"})
    mirror.upload.thumb_error_rate = 0.15  # enough broken files among a few dozen
    settings = mirror.settings(http_max_attempts=6)
    meta = fetch_metadata(settings, _names(sample_wiki, N_FILES), None)
    items, _ = plan_work(meta.table.to_pylist())
    broken = [i for i in items if "/thumb/" in i.url and thumb_broken(i.file_name, 0.15)]
    assert broken, "the sample should have a broken thumbnail at this rate"
    mirror.reset_stats()
    summary = fetch_media(settings, meta.table)
    assert summary.failed == {"http_500": len(broken)}
    assert summary.deferred == DEFERRED_RETRIES * len(broken)
    stats = mirror.stats["upload"]
    assert stats["status"][500] == (1 + DEFERRED_RETRIES) * len(broken)  # never 6 in-line attempts
    assert summary.retries == 0  # no backoff at all for a thumbnail 500
    _polite(stats)
