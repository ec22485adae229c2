"""DumpsClient against an in-process fake session: run choice, verification, Range resume."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable

import pytest
import requests

from wikivis.errors import ChecksumError, NotFoundError
from wikivis.sources.dumps import DumpsClient, job_name, parse_checksums, parse_dumpstatus
from wikivis.sources.http import RetryPolicy

BASE = "http://dumps.test"
MIRROR = "http://mirror.test"
DATA = b"-- fake dump body --\n" * 5000

Handler = Callable[[dict], tuple[int, bytes, dict[str, str]]]


class FakeSession:
    """Answers from a route table; records (url, headers) of every request."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.calls: list[tuple[str, dict]] = []
        self.headers: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        headers = dict(kwargs.get("headers") or {})
        self.calls.append((url, headers))
        handler = self.routes.get(url)
        status, body, extra = handler(headers) if handler else (404, b"Not Found", {})
        response = requests.Response()
        response.status_code = status
        response.url = url
        response.raw = io.BytesIO(body)
        response.headers.update(extra)
        response.reason = "OK" if status < 400 else "ERR"
        return response

    def close(self) -> None:
        pass


def static(body: bytes, status: int = 200) -> Handler:
    return lambda headers: (status, body, {})


def ranged(data: bytes, *, first_cut: int | None = None) -> Handler:
    """A file server honouring Range; the first full request is cut at ``first_cut`` bytes."""
    state = {"cut": first_cut}

    def handle(headers: dict) -> tuple[int, bytes, dict[str, str]]:
        rng = headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].rstrip("-"))
            if start >= len(data):
                return 416, b"", {}
            return 206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        if state["cut"] is not None:
            cut, state["cut"] = state["cut"], None
            return 200, data[:cut], {}
        return 200, data, {}

    return handle


def status_json(date: str, jobs: dict[str, tuple[str, bytes | None]], *, wiki: str = "xwiki") -> bytes:
    out = {}
    for table, (status, data) in jobs.items():
        files = {}
        if data is not None:
            name = f"{wiki}-{date}-{table}.sql.gz"
            files[name] = {
                "size": len(data), "url": f"/{wiki}/{date}/{name}",
                "md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
            }
        out[job_name(table)] = {"status": status, "updated": f"{date[:4]}-01-01 00:00:00", "files": files}
    return json.dumps({"jobs": out, "version": "0.8"}).encode()


def index(dates: list[str]) -> bytes:
    links = "".join(f'<li><a href="{d}/">{d}</a></li>' for d in dates)
    return f"<html><body><ul>{links}<li><a href='latest/'>latest</a></li></ul></body></html>".encode()


@pytest.fixture
def make_client(settings):
    def make(routes: dict[str, Handler], **overrides) -> tuple[DumpsClient, FakeSession]:
        session = FakeSession(routes)
        s = settings.replace(dumps_url=BASE, **overrides)
        policy = RetryPolicy(max_attempts=3, backoff_initial_s=0.0)
        return DumpsClient(s, session=session, policy=policy, sleep=lambda _s: None), session

    return make


def test_job_readiness():
    run = parse_dumpstatus("xwiki", "20260101", json.loads(status_json("20260101", {
        "page": ("done", b"x"), "imagelinks": ("in-progress", b"y"), "page_props": ("failed", None),
    })))
    assert run.ready(["page"])
    assert not run.ready(["page", "imagelinks"])
    assert run.missing(["page", "imagelinks", "page_props", "linktarget"]) == {
        "imagelinks": "in-progress", "page_props": "failed", "linktarget": "absent",
    }
    no_sum = parse_dumpstatus("xwiki", "d", {"jobs": {"pagetable": {"status": "done", "files": {"f": {"size": 1}}}}})
    assert no_sum.missing(["page"]) == {"page": "no checksum"}
    assert job_name("page_props") == "pagepropstable"


def test_parse_checksums():
    assert parse_checksums("abc  x.sql.gz\nDEF *y.sql.gz\n\n") == {"x.sql.gz": "abc", "y.sql.gz": "def"}


def test_latest_is_the_newest_run_holding_every_table(make_client):
    routes = {
        f"{BASE}/xwiki/": static(index(["20260101", "20260120", "20260201", "20260220"])),
        f"{BASE}/xwiki/20260220/dumpstatus.json": static(status_json("20260220", {"page": ("in-progress", None)})),
        f"{BASE}/xwiki/20260201/dumpstatus.json": static(status_json("20260201", {"page": ("done", b"p")})),
        f"{BASE}/xwiki/20260120/dumpstatus.json": static(
            status_json("20260120", {"page": ("done", b"p"), "imagelinks": ("done", b"i")})
        ),
    }
    client, _ = make_client(routes)
    assert client.list_runs("xwiki") == ["20260101", "20260120", "20260201", "20260220"]
    assert client.find_run("xwiki", ["page"]).date == "20260201"
    assert client.find_run("xwiki", ["page", "imagelinks"]).date == "20260120"
    assert client.find_run("xwiki", ["page"], at_or_before="20260131").date == "20260120"
    with pytest.raises(NotFoundError, match="not ready"):
        client.find_run("xwiki", ["page"], "20260220")
    with pytest.raises(NotFoundError, match="no complete dump run"):
        client.find_run("xwiki", ["categorylinks"])
    with pytest.raises(NotFoundError):
        client.run_status("xwiki", "20250101")


def _one_file_routes(data: bytes, handler: Handler | None = None, sums: bytes | None = None) -> dict[str, Handler]:
    name = "xwiki-20260101-page.sql.gz"
    routes = {
        f"{BASE}/xwiki/": static(index(["20260101"])),
        f"{BASE}/xwiki/20260101/dumpstatus.json": static(status_json("20260101", {"page": ("done", data)})),
        f"{BASE}/xwiki/20260101/{name}": handler or ranged(data),
    }
    if sums is not None:
        routes[f"{BASE}/xwiki/20260101/xwiki-20260101-sha1sums.txt"] = static(sums)
    return routes


def test_fetch_verifies_records_and_never_refetches(make_client, settings):
    sums = f"{hashlib.sha1(DATA).hexdigest()}  xwiki-20260101-page.sql.gz\n".encode()
    client, session = make_client(_one_file_routes(DATA, sums=sums))
    files = client.fetch("xwiki", "latest", ["page"])
    got = files.files["page"]
    assert got.path.read_bytes() == DATA
    assert got.path.parent == settings.raw_root / "dumps" / "xwiki" / "20260101"
    assert not got.path.with_name(got.path.name + ".part").exists()
    manifest = json.loads((got.path.parent / "_manifest.json").read_text())
    entry = manifest["files"]["xwiki-20260101-page.sql.gz"]
    assert entry["sha1"] == hashlib.sha1(DATA).hexdigest()
    assert entry["md5"] == hashlib.md5(DATA).hexdigest()
    assert entry["size"] == len(DATA)
    assert entry["url"].endswith("/xwiki/20260101/xwiki-20260101-page.sql.gz")
    assert entry["fetched_at"]

    downloads = [u for u, _ in session.calls if u.endswith(".sql.gz")]
    again = client.fetch("xwiki", "20260101", ["page"])
    assert again.files["page"].reused
    assert [u for u, _ in session.calls if u.endswith(".sql.gz")] == downloads


def test_dropped_body_resumes_with_range(make_client):
    client, session = make_client(_one_file_routes(DATA, ranged(DATA, first_cut=len(DATA) // 3)))
    got = client.fetch("xwiki", "20260101", ["page"]).files["page"]
    assert got.path.read_bytes() == DATA
    file_calls = [h for u, h in session.calls if u.endswith(".sql.gz")]
    assert file_calls == [{}, {"Range": f"bytes={len(DATA) // 3}-"}]


def test_corrupt_body_is_downloaded_again_then_refused(make_client, settings):
    bad = bytearray(DATA)
    bad[100] ^= 0xFF
    attempts = {"n": 0}

    def corrupt_once(headers: dict) -> tuple[int, bytes, dict[str, str]]:
        attempts["n"] += 1
        return 200, bytes(bad) if attempts["n"] == 1 else DATA, {}

    client, _ = make_client(_one_file_routes(DATA, corrupt_once))
    assert client.fetch("xwiki", "20260101", ["page"]).files["page"].path.read_bytes() == DATA

    always_bad, _ = make_client(_one_file_routes(DATA, static(bytes(bad))), home=settings.home / "other")
    with pytest.raises(ChecksumError, match="does not verify"):
        always_bad.fetch("xwiki", "20260101", ["page"])
    run_dir = always_bad.run_dir("xwiki", "20260101")
    assert not list(run_dir.glob("*.sql.gz*"))


def test_sha1sums_must_agree_with_dumpstatus(make_client):
    client, session = make_client(_one_file_routes(DATA, sums=b"0" * 40 + b"  xwiki-20260101-page.sql.gz\n"))
    with pytest.raises(ChecksumError, match="sha1sums"):
        client.fetch("xwiki", "20260101", ["page"])
    assert not [u for u, _ in session.calls if u.endswith(".sql.gz")]


def test_mirrors_are_tried_in_order(make_client):
    routes = {url.replace(BASE, MIRROR): h for url, h in _one_file_routes(DATA).items()}
    routes[f"{BASE}/xwiki/"] = static(b"overloaded", 503)
    client, session = make_client(routes, dump_mirrors=(MIRROR,))
    got = client.fetch("xwiki", "latest", ["page"]).files["page"]
    assert got.url.startswith(MIRROR)
    assert got.path.read_bytes() == DATA
    assert sum(1 for u, _ in session.calls if u == f"{BASE}/xwiki/") == 3  # the retry policy ran first
