"""Dumps server: dumpstatus job states, checksums, Range, latest/, legacy schema, politeness."""

from __future__ import annotations

import gzip
import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.mirror.conftest import GOOD_UA

pytestmark = pytest.mark.integration


def test_complete_run_status_files_and_checksums(mirror, sample_wiki, http) -> None:
    wiki, date = sample_wiki.wiki, sample_wiki.dates[2]
    base = f"{mirror.urls['dumps']}/{wiki}/{date}"
    status = http.get(f"{base}/dumpstatus.json").json()
    assert status["version"] == "0.8"
    assert set(status["jobs"]) == {"pagetable", "linktargettable", "imagelinkstable", "pagepropstable", "categorylinkstable",
                                   "articlesdump"}
    job = status["jobs"]["imagelinkstable"]
    assert job["status"] == "done"
    name = f"{wiki}-{date}-imagelinks.sql.gz"
    entry = job["files"][name]
    assert entry["url"] == f"/{wiki}/{date}/{name}"
    data = http.get(mirror.urls["dumps"] + entry["url"]).content
    assert len(data) == entry["size"]
    assert hashlib.md5(data).hexdigest() == entry["md5"]
    assert hashlib.sha1(data).hexdigest() == entry["sha1"]
    sql = gzip.decompress(data)
    assert sql.startswith(b"/*M!999999\\- enable the sandbox mode */")
    assert b"`il_target_id` bigint(20) unsigned NOT NULL" in sql
    assert b"il_to" not in sql
    assert b"INSERT INTO `imagelinks` VALUES\n(" in sql
    sums = http.get(f"{base}/{wiki}-{date}-sha1sums.txt").text
    assert f"{entry['sha1']}  {name}" in sums.splitlines()
    commons = http.get(f"{mirror.urls['dumps']}/{sample_wiki.commons_wiki}/{date}/dumpstatus.json").json()
    assert commons["jobs"]["imagetable"]["status"] == "done"


def test_failed_and_in_progress_runs(mirror, sample_wiki, http) -> None:
    wiki = sample_wiki.wiki
    dates = [line.split('"')[1].rstrip("/") for line in http.get(f"{mirror.urls['dumps']}/{wiki}/").text.splitlines() if 'href="2' in line]
    assert dates == sorted(dates)
    old, new = dates[0], dates[-1]
    assert old < sample_wiki.dates[0]
    assert new > sample_wiki.dates[-1]
    failed = http.get(f"{mirror.urls['dumps']}/{wiki}/{old}/dumpstatus.json").json()["jobs"]
    assert failed["imagelinkstable"] == {"status": "failed", "updated": failed["imagelinkstable"]["updated"], "files": {}}
    assert failed["pagetable"]["status"] == "done"
    running = http.get(f"{mirror.urls['dumps']}/{wiki}/{new}/dumpstatus.json").json()["jobs"]
    assert running["pagetable"]["status"] == "done"
    assert running["imagelinkstable"]["status"] == "in-progress"
    assert running["categorylinkstable"]["status"] == "waiting"
    assert running["imagelinkstable"]["files"] == {}
    missing = http.get(f"{mirror.urls['dumps']}/{wiki}/{new}/{wiki}-{new}-imagelinks.sql.gz")
    assert missing.status_code == 404
    # the old run is in the legacy schema and the classic one-line style
    page = gzip.decompress(http.get(f"{mirror.urls['dumps']}/{wiki}/{old}/{wiki}-{old}-categorylinks.sql.gz").content)
    assert b"`cl_to` varbinary(255)" in page
    assert b"INSERT INTO `categorylinks` VALUES (" in page
    assert not page.startswith(b"/*M!999999")


def test_latest_follows_each_job(mirror, sample_wiki, http) -> None:
    wiki = sample_wiki.wiki
    latest = f"{mirror.urls['dumps']}/{wiki}/latest"
    newest_done = http.get(f"{latest}/{wiki}-latest-page.sql.gz").content
    newest_il = http.get(f"{latest}/{wiki}-latest-imagelinks.sql.gz").content
    new_date = sorted(d for d in mirror.dumps.dates(wiki))[-1]
    jobs = mirror.dumps.dumpstatus(mirror.dumps.runs[(wiki, new_date)])["jobs"]
    assert hashlib.md5(newest_done).hexdigest() == next(iter(jobs["pagetable"]["files"].values()))["md5"]
    last_complete = mirror.dumps.dumpstatus(mirror.dumps.runs[(wiki, sample_wiki.dates[-1])])["jobs"]
    assert hashlib.md5(newest_il).hexdigest() == next(iter(last_complete["imagelinkstable"]["files"].values()))["md5"]
    rss = http.get(f"{latest}/{wiki}-latest-imagelinks.sql.gz-rss.xml").text
    assert f"/{wiki}/{sample_wiki.dates[-1]}" in rss


def test_legacy_and_style_flags(mirror, sample_wiki, http) -> None:
    wiki, date = sample_wiki.wiki, sample_wiki.dates[0]
    url = f"{mirror.urls['dumps']}/{wiki}/{date}/{wiki}-{date}-imagelinks.sql.gz"
    legacy = gzip.decompress(http.get(url, params={"schema": "legacy", "style": "mysqldump"}).content)
    assert b"`il_to` varbinary(255) NOT NULL DEFAULT ''" in legacy
    assert b"INSERT INTO `imagelinks` VALUES (" in legacy


def test_range_requests(mirror, sample_wiki, http) -> None:
    wiki, date = sample_wiki.wiki, sample_wiki.dates[1]
    url = f"{mirror.urls['dumps']}/{wiki}/{date}/{wiki}-{date}-page.sql.gz"
    full = http.get(url).content
    part = http.get(url, headers={"Range": "bytes=100-"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-{len(full) - 1}/{len(full)}"
    assert full[:100] + part.content == full
    head = http.get(url, headers={"Range": "bytes=0-9"})
    assert head.status_code == 206
    assert head.content == full[:10]
    suffix = http.get(url, headers={"Range": "bytes=-5"})
    assert suffix.content == full[-5:]
    beyond = http.get(url, headers={"Range": f"bytes={len(full)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(full)}"


def test_user_agent_policy(mirror, sample_wiki) -> None:
    mirror.reset_stats()
    url = f"{mirror.urls['dumps']}/{sample_wiki.wiki}/{sample_wiki.dates[0]}/dumpstatus.json"
    for agent in ("python-requests/2.32.0", "curl/8.5.0", "MyTool/1.0", "MyTool/1.0 (no contact here)"):
        response = requests.get(url, headers={"User-Agent": agent})
        assert response.status_code == 403, agent
        assert "https://w.wiki/4wJS" in response.text
    assert requests.get(url, headers={"User-Agent": GOOD_UA}).status_code == 200
    assert mirror.stats["dumps"]["bad_user_agent"] == 4


def test_more_than_two_connections_get_503(mirror_factory, sample_wiki) -> None:
    running = mirror_factory()
    running.dumps.latency_s = 2.0  # keep the first requests in flight
    url = f"{running.urls['dumps']}/{sample_wiki.wiki}/{sample_wiki.dates[0]}/dumpstatus.json"

    def get(_: int) -> int:
        return requests.get(url, headers={"User-Agent": GOOD_UA}).status_code

    with ThreadPoolExecutor(3) as pool:
        statuses = sorted(pool.map(get, range(3)))
    assert statuses == [200, 200, 503]
    stats = running.stats["dumps"]
    assert stats["peak_concurrency"] == 3
    assert stats["refused_over_limit"] == 1


def test_checksum_fault_publishes_wrong_sums(mirror_factory, sample_wiki, http) -> None:
    running = mirror_factory(faults="checksum")
    wiki, date = sample_wiki.wiki, sample_wiki.dates[0]
    entry = http.get(f"{running.urls['dumps']}/{wiki}/{date}/dumpstatus.json").json()["jobs"]["imagelinkstable"]["files"]
    ((_, info),) = entry.items()
    data = http.get(running.urls["dumps"] + info["url"]).content
    assert hashlib.md5(data).hexdigest() != info["md5"]
