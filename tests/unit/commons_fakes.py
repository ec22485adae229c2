"""In-process fakes for the Commons unit tests: a tiny MediaWiki Action API simulator and an
upload host, both mounted as requests transport adapters (no sockets). Its fixtures are registered by
``tests/unit/conftest.py``."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from PIL import Image
from requests.adapters import BaseAdapter
from urllib3 import HTTPResponse

UA = "wikivis-tests/1.0 (tests@example.org) python-requests/2"
API = "http://api.test/w/api.php"
UPLOAD = "http://upload.test"


def make_response(request: requests.PreparedRequest, status: int, body: bytes, headers: dict[str, Any] | None = None,
                  *, declared_length: int | None = None) -> requests.Response:
    hdrs = {"Content-Length": str(len(body) if declared_length is None else declared_length), **(headers or {})}
    raw = HTTPResponse(body=io.BytesIO(body), headers=hdrs, status=status, preload_content=False,
                       enforce_content_length=True, decode_content=False)
    response = requests.adapters.HTTPAdapter().build_response(request, raw)
    return response


class FakeAdapter(BaseAdapter):
    def __init__(self, handler):
        super().__init__()
        self.handler = handler

    def send(self, request, **kwargs):  # type: ignore[override]
        return self.handler(request)

    def close(self):
        pass


def fake_session(base_url: str, handle: Callable[[requests.PreparedRequest], requests.Response]) -> requests.Session:
    """A session with the tests' User-Agent whose requests under ``base_url`` go to ``handle``."""
    s = requests.Session()
    s.headers["User-Agent"] = UA
    s.mount(base_url, FakeAdapter(handle))
    return s


# --------------------------------------------------------------------------- Action API


@dataclass
class FakeFile:
    name: str  # DB key
    width: int = 1000
    height: int = 800
    mime: str = "image/jpeg"
    media_type: str = "BITMAP"
    licence: str | None = "CC BY-SA 4.0"
    non_free: bool = False
    sha1: str = ""

    def __post_init__(self) -> None:
        if not self.sha1:
            self.sha1 = hashlib.sha1(self.name.encode()).hexdigest()

    @property
    def title(self) -> str:
        return "File:" + self.name.replace("_", " ")


@dataclass
class FakeApi:
    """Simulates the parts of api.php wikivis uses, formatversion=2 shaped."""

    files: dict[str, FakeFile] = field(default_factory=dict)  # keyed by title
    categories: dict[str, list[str]] = field(default_factory=dict)  # Category:X -> member titles
    search_index: dict[str, list[str]] = field(default_factory=dict)
    pages: dict[int, dict[str, Any]] = field(default_factory=dict)  # pageid -> {title, images, props}
    transform_limit: int = 50
    list_page_size: int = 3
    no_imageinfo: set[str] = field(default_factory=set)  # titles of file pages without a file revision
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)  # canned responses first
    calls: list[dict[str, str]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)

    def add(self, *files: FakeFile) -> None:
        for f in files:
            self.files[f.title] = f

    def session(self) -> requests.Session:
        return fake_session("http://api.test/", self.handle)

    # ---------------------------------------------------------------- dispatch
    def handle(self, request: requests.PreparedRequest) -> requests.Response:
        params = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
        self.calls.append(params)
        self.user_agents.append(str(request.headers.get("User-Agent")))
        if self.script:
            status, body, headers = self.script.pop(0)
            return make_response(request, status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})
        body = self.answer(params)
        return make_response(request, 200, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"})

    def answer(self, p: dict[str, str]) -> dict[str, Any]:
        assert p["format"] == "json"
        assert p["formatversion"] == "2"
        if p.get("prop") == "imageinfo":
            return self.imageinfo(p)
        if p.get("prop") == "images|pageprops":
            return self.page_images(p)
        if p.get("list") == "categorymembers":
            return self.categorymembers(p)
        if p.get("list") == "search":
            return self.search(p)
        return {"error": {"code": "badvalue", "info": "Unrecognized value"}}

    @staticmethod
    def normalise(title: str) -> str:
        ns, _, rest = title.partition(":")
        rest = rest.replace("_", " ").strip()
        return f"{ns}:{rest[:1].upper()}{rest[1:]}"

    def imageinfo(self, p: dict[str, str]) -> dict[str, Any]:
        titles = p["titles"].split("|")
        if len(titles) > 50:
            return {"error": {"code": "toomanyvalues", "info": "Too many values supplied for parameter \"titles\"."}}
        width = int(p["iiurlwidth"]) if "iiurlwidth" in p else None
        normalized = [{"fromencoded": False, "from": t, "to": self.normalise(t)} for t in titles if self.normalise(t) != t]
        start = p.get("iicontinue", "").split("|")[0].replace("_", " ")
        pages: list[dict[str, Any]] = []
        transforms = 0
        cont: dict[str, str] | None = None
        for title in sorted({self.normalise(t) for t in titles}):
            if "<" in title or title.endswith(":"):
                pages.append({"title": title, "invalidreason": "bad title", "invalid": True})
                continue
            f = self.files.get(title)
            if title in self.no_imageinfo:
                pages.append({"pageid": 99, "ns": 6, "title": title, "imagerepository": ""})
                continue
            if f is None:
                pages.append({"ns": 6, "title": title, "missing": True, "known": False, "imagerepository": ""})
                continue
            page: dict[str, Any] = {"pageid": abs(hash(title)) % 10**6, "ns": 6, "title": title, "imagerepository": "local"}
            pages.append(page)
            if cont is not None or (start and title[5:] < start):
                continue
            if width is not None:
                if transforms >= self.transform_limit:
                    cont = {"iicontinue": f"{title[5:].replace(' ', '_')}|20250101000000", "continue": "||"}
                    continue
                transforms += 1
            page["imageinfo"] = [self.info(f, width)]
        body: dict[str, Any] = {"query": {"pages": pages}}
        if normalized:
            body["query"]["normalized"] = normalized
        if cont:
            body["continue"] = cont
        else:
            body["batchcomplete"] = True
        return body

    def info(self, f: FakeFile, width: int | None) -> dict[str, Any]:
        h = hashlib.md5(f.name.encode()).hexdigest()
        url = f"{UPLOAD}/wikipedia/commons/{h[0]}/{h[:2]}/{f.name}"
        ext: dict[str, Any] = {
            "Artist": {"value": '<a href="//commons.wikimedia.org/wiki/User:Ann">Ann &amp; Bob</a>', "source": "commons-desc-page"},
            "ImageDescription": {"value": "<p>A <b>cat</b>\n on a mat</p>", "source": "commons-desc-page"},
            "AttributionRequired": {"value": "true", "source": "commons-desc-page"},
        }
        if f.licence:
            ext["LicenseShortName"] = {"value": f.licence, "source": "commons-desc-page"}
        if f.non_free:
            ext["NonFree"] = {"value": "true", "source": "commons-desc-page"}
        info = {"size": f.width * 10, "width": f.width, "height": f.height, "url": url, "descriptionurl": "x",
                "sha1": f.sha1, "mime": f.mime, "mediatype": f.media_type, "extmetadata": ext}
        if width is not None:
            if width >= f.width and f.media_type != "DRAWING":
                info.update(thumburl=url, thumbwidth=f.width, thumbheight=f.height)
            else:
                suffix = ".png" if f.name.endswith(".svg") else ""
                info.update(
                    thumburl=f"{UPLOAD}/wikipedia/commons/thumb/{h[0]}/{h[:2]}/{f.name}/{width}px-{f.name}{suffix}",
                    thumbwidth=width,
                    thumbheight=round(f.height * width / f.width),
                )
        return info

    def _paged_list(self, name: str, items: list[Any], p: dict[str, str], key: str) -> dict[str, Any]:
        """``{"query": {name: <one page of items>}}`` with the ``continue`` block while more remain."""
        offset = int(p.get(key, "0") or 0)
        nxt = offset + self.list_page_size
        body: dict[str, Any] = {"query": {name: items[offset:nxt]}}
        if nxt < len(items):
            body["continue"] = {key: str(nxt), "continue": "-||"}
        return body

    def categorymembers(self, p: dict[str, str]) -> dict[str, Any]:
        types = set(p["cmtype"].split("|"))
        members = []
        for title in self.categories.get(p["cmtitle"], []):
            kind = "subcat" if title.startswith("Category:") else "file" if title.startswith("File:") else "page"
            if kind in types:
                members.append({"ns": 14 if kind == "subcat" else 6, "title": title, "type": kind})
        return self._paged_list("categorymembers", members, p, "cmcontinue")

    def search(self, p: dict[str, str]) -> dict[str, Any]:
        assert p["srnamespace"] == "6"
        hits = [{"ns": 6, "title": t} for t in self.search_index.get(p["srsearch"], [])]
        return self._paged_list("search", hits, p, "sroffset")

    def page_images(self, p: dict[str, str]) -> dict[str, Any]:
        ids = [int(i) for i in p["pageids"].split("|")]
        offset = int(p.get("imcontinue", "0") or 0)
        pages, images_sent, more = [], 0, False
        flat: list[tuple[int, str]] = [(pid, img) for pid in ids if pid in self.pages for img in self.pages[pid]["images"]]
        window = flat[offset : offset + self.list_page_size]
        more = offset + self.list_page_size < len(flat)
        for pid in ids:
            if pid not in self.pages:
                pages.append({"pageid": pid, "missing": True})
                continue
            page = self.pages[pid]
            entry: dict[str, Any] = {"pageid": pid, "ns": 0, "title": page["title"]}
            imgs = [{"ns": 6, "title": img} for (q, img) in window if q == pid]
            images_sent += len(imgs)
            if imgs:
                entry["images"] = imgs
            if offset == 0 and page.get("props"):
                entry["pageprops"] = page["props"]
            pages.append(entry)
        body: dict[str, Any] = {"query": {"pages": pages}}
        if more:
            body["continue"] = {"imcontinue": str(offset + self.list_page_size), "continue": "||"}
        return body


@pytest.fixture(name="FakeFile")
def _fake_file_class() -> type[FakeFile]:
    return FakeFile


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def api_client(fake_api):
    from wikivis.sources.commons import ActionApiClient
    from wikivis.sources.http import RetryPolicy

    sleeps: list[float] = []
    client = ActionApiClient(API, session=fake_api.session(), policy=RetryPolicy(max_attempts=3), sleep=sleeps.append)
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


# --------------------------------------------------------------------------- upload host


def jpeg_bytes(width: int = 330, height: int = 220, color: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", quality=85)
    return buf.getvalue()


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    declared_length: int | None = None  # a Content-Length larger than the body → truncated


@dataclass
class FakeUpload:
    """An upload host: path → Route; counts requests per path; can 'crash' after N requests."""

    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    interrupt_after: int | None = None
    fallback: Route | None = None  # served for any path without a route (default 404)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    def session(self) -> requests.Session:
        return fake_session("http://upload.test/", self.handle)

    def handle(self, request: requests.PreparedRequest) -> requests.Response:
        path = urlsplit(request.url).path
        with self._lock:
            if self.interrupt_after is not None and self.total >= self.interrupt_after:
                raise KeyboardInterrupt("simulated crash")
            self.hits[path] = self.hits.get(path, 0) + 1
        route = self.routes.get(path) or self.fallback or Route(b"not found", 404)
        return make_response(request, route.status, route.body, {"Content-Type": "image/jpeg", **route.headers},
                             declared_length=route.declared_length)


@pytest.fixture
def fake_upload() -> FakeUpload:
    return FakeUpload()
