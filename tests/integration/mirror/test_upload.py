"""Upload server: originals by md5 path, real thumbnails at standard widths only, Range, caps."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image

from tests.integration.mirror.conftest import GOOD_UA
from wikivis.mirror.upload import hash_path, original_path, thumb_path

pytestmark = pytest.mark.integration


def _rows(sample_wiki, mime: str) -> list[dict]:
    return [r for r in sample_wiki.state(sample_wiki.n_days).tables["image"] if r["img_minor_mime"] == mime]


def test_original_is_the_file(mirror, sample_wiki, http) -> None:
    row = _rows(sample_wiki, "jpeg")[0]
    url = mirror.urls["upload"] + original_path(row["img_name"])
    assert hash_path("Example.jpg") == "a/a9"  # md5("Example.jpg") = a9f7…
    response = http.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.content == sample_wiki.file_bytes(row["img_name"])
    wrong_hash = url.replace(f"/{hash_path(row['img_name'])}/", "/0/00/")
    assert http.get(wrong_hash).status_code == 404


def test_thumbnails_are_resized_at_standard_widths(mirror, sample_wiki, http) -> None:
    row = next(r for r in _rows(sample_wiki, "jpeg") if r["img_width"] > 330)
    response = http.get(mirror.urls["upload"] + thumb_path(row["img_name"], 330))
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.width == 330
        assert img.height == round(row["img_height"] * 330 / row["img_width"])
    svg = _rows(sample_wiki, "svg+xml")[0]
    url = mirror.urls["upload"] + thumb_path(svg["img_name"], 960)  # SVGs scale up
    assert url.endswith(".svg.png")
    response = http.get(url)
    assert response.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.width == 960


def test_nonstandard_width_is_400(mirror_factory, sample_wiki, http) -> None:
    running = mirror_factory()
    row = next(r for r in _rows(sample_wiki, "jpeg") if r["img_width"] > 400)
    response = http.get(running.urls["upload"] + thumb_path(row["img_name"], 300))
    assert response.status_code == 400
    assert response.text.strip() == "Use thumbnail sizes listed on https://w.wiki/GHai"
    too_big = http.get(running.urls["upload"] + thumb_path(row["img_name"], 1920))
    assert too_big.status_code == 400  # bitmaps are not scaled up
    assert running.stats["upload"]["nonstandard_widths"] == 1


def test_range_on_originals(mirror, sample_wiki, http) -> None:
    row = _rows(sample_wiki, "png")[0]
    url = mirror.urls["upload"] + original_path(row["img_name"])
    data = sample_wiki.file_bytes(row["img_name"])
    part = http.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert part.content == data[10:20]


def test_more_than_two_concurrent_downloads_get_429(mirror_factory, sample_wiki) -> None:
    running = mirror_factory(upload_latency_s=2.0)
    url = running.urls["upload"] + original_path(_rows(sample_wiki, "jpeg")[0]["img_name"])

    def get(_: int) -> requests.Response:
        return requests.get(url, headers={"User-Agent": GOOD_UA})

    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(get, range(3)))
    assert sorted(r.status_code for r in responses) == [200, 200, 429]
    assert next(r for r in responses if r.status_code == 429).headers["Retry-After"] == "1"
    stats = running.stats["upload"]
    assert stats["peak_concurrency"] == 3
    assert stats["throttled_429"] == 1
    assert stats["bytes_sent"] > 0


@pytest.mark.parametrize("profile", ["truncated", "corrupt", "flaky", "drops"])
def test_payload_faults(mirror_factory, sample_wiki, http, profile: str) -> None:
    running = mirror_factory(faults=profile)
    row = _rows(sample_wiki, "jpeg")[0]
    url = running.urls["upload"] + original_path(row["img_name"])
    good = sample_wiki.file_bytes(row["img_name"])
    outcomes = []
    for _ in range(6):
        try:
            response = http.get(url)
            outcomes.append("ok" if response.status_code == 200 and response.content == good else f"bad-{response.status_code}")
        except requests.RequestException:
            outcomes.append("broken")
    assert "ok" in outcomes
    assert any(o != "ok" for o in outcomes)


def test_thumb500_profile_answers_error_generating_thumbnail(mirror_factory, sample_wiki, http) -> None:
    """Some files cannot be thumbnailed: Thumbor's HTML 500 page, every time, originals still served."""
    from wikivis.mirror.upload import thumb_broken

    running = mirror_factory(faults={"upload": "thumb500"})
    rows = [r for r in _rows(sample_wiki, "jpeg") if r["img_width"] > 330]
    names = [f"File_{i}.jpg" for i in range(20_000)]
    assert 0.008 < sum(thumb_broken(n, 0.01) for n in names) / len(names) < 0.012  # 1 % of the files
    running.upload.thumb_error_rate = 1.0  # make the sample's files all broken for this check
    row = rows[0]
    for _ in range(2):
        response = http.get(running.urls["upload"] + thumb_path(row["img_name"], 330))
        assert response.status_code == 500
        assert response.headers["Content-Type"].startswith("text/html")
        assert "Error generating thumbnail" in response.text
        assert "<title>Wikimedia Error</title>" in response.text
    assert http.get(running.urls["upload"] + original_path(row["img_name"])).status_code == 200
    running.upload.thumb_error_rate = 0.0
    assert http.get(running.urls["upload"] + thumb_path(row["img_name"], 330)).status_code == 200
