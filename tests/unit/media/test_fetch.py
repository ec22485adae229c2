from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image

from tests.unit.commons_fakes import UPLOAD, Route, jpeg_bytes
from wikivis.errors import SourceError
from wikivis.media.fetch import (
    ImageProblem,
    ThumbnailFetcher,
    default_thumb_width,
    fetch_media,
    plan_work,
    thumb_url_width,
    upload_bucket,
    verify_image,
)
from wikivis.media.store import MediaStore
from wikivis.sources.http import RetryPolicy, TokenBucket


def png_header_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header announces width × height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------- pure helpers


def test_default_thumb_width_covers_the_model_input():
    assert default_thumb_width(224) == 330
    assert default_thumb_width(120, resize_ratio=1.0) == 120
    assert default_thumb_width(300) == 500
    assert default_thumb_width(10_000) == 3840


def test_thumb_url_width():
    base = "https://upload.wikimedia.org/wikipedia/commons"
    assert thumb_url_width(f"{base}/thumb/a/ab/Cat.jpg/330px-Cat.jpg") == 330
    assert thumb_url_width(f"{base}/thumb/a/ab/Map.svg/500px-Map.svg.png") == 500
    assert thumb_url_width(f"{base}/thumb/a/ab/Scan.tif/lossy-page1-330px-Scan.tif.jpg") == 330
    assert thumb_url_width(f"{base}/thumb/a/ab/Cat.jpg/300px-Cat.jpg") == 300  # non-standard: caller refuses
    assert thumb_url_width(f"{base}/a/ab/Cat.jpg") is None  # an original
    assert thumb_url_width(f"{base}/a/ab/300px-Logo.png") is None  # a file *named* 300px-…


def test_upload_bucket_keeps_every_10s_window_under_the_cap(settings):
    clock = [0.0]
    bucket = upload_bucket(settings)
    real = TokenBucket(bucket.rate, window_s=bucket.capacity / bucket.rate, clock=lambda: clock[0],
                       sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    events = []
    for _ in range(4000):  # greedy reader: 64 KiB chunks as fast as allowed
        real.consume(65536)
        events.append((clock[0], 65536))
    cap_bytes = settings.upload_max_mbps * 1e6 / 8 * 10
    times = [t for t, _ in events]
    j = window = worst = 0
    for t, n in events:  # sliding 10-s window over the consumption times
        window += n
        while times[j] < t - 10.0:
            window -= events[j][1]
            j += 1
        worst = max(worst, window)
    assert worst <= cap_bytes + 65536  # one chunk of debt at most
    assert clock[0] > 60  # it really was rate-limited (4000 × 64 KiB = 262 MB ≈ 84 s at 25 Mbps)


def test_verify_image_accepts_a_jpeg():
    assert verify_image(jpeg_bytes(330, 200)) == ("JPEG", 330, 200)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (jpeg_bytes()[:-400], "truncated"),
        (b"GIF89a" + b"\x00" * 40, "corrupt"),
        (b"<html>not an image</html>", "corrupt"),
        (png_header_bomb(8000, 8000), "decompression_bomb"),  # above our limit, below Pillow's
        (png_header_bomb(30000, 30000), "decompression_bomb"),  # Pillow's DecompressionBombError
    ],
)
def test_verify_image_failures(data, reason):
    with pytest.raises(ImageProblem) as err:
        verify_image(data)
    assert err.value.reason == reason


def test_store_is_content_addressed_and_atomic(tmp_path):
    store = MediaStore(tmp_path)
    sha1 = "ab" + "0" * 38
    assert store.find(sha1) is None
    path = store.put(sha1, "jpg", b"x")
    assert path == tmp_path / "ab" / f"{sha1}.jpg"
    assert store.find(sha1) == path
    assert not list((tmp_path / "ab").glob(".*.tmp"))
    with pytest.raises(ValueError):
        store.put("nothex", "jpg", b"x")


def meta(name: str, *, sha1: str | None = None, url: str | None = None, licence: str | None = "CC BY 4.0",
         non_free: bool = False, media_type: str = "BITMAP") -> dict:
    return {
        "file_name": name,
        "sha1": sha1 or hashlib.sha1(name.encode()).hexdigest(),
        "thumb_url": url if url is not None else f"{UPLOAD}/thumb/x/xx/{name}/330px-{name}",
        "licence_short_name": licence,
        "non_free": non_free,
        "media_type": media_type,
    }


def test_plan_work_dedups_by_sha1_and_decides_skips():
    same = hashlib.sha1(b"same").hexdigest()
    rows = [
        meta("B.jpg", sha1=same),
        meta("A.jpg", sha1=same),
        meta("Fair.jpg", licence="Fair use"),
        meta("Unknown.jpg", licence=None),
        meta("Sound.ogg", media_type="AUDIO"),
        meta("Odd.jpg", url=f"{UPLOAD}/thumb/x/xx/Odd.jpg/300px-Odd.jpg"),
        meta("Nothumb.jpg", url=""),
    ]
    items, decided = plan_work(rows)
    assert [(i.file_name, i.sha1) for i in items] == [("A.jpg", same)]
    reasons = {r["file_name"]: (r["status"], r["reason"]) for r in decided}
    assert reasons == {
        "Fair.jpg": ("skipped", "not_free"),
        "Unknown.jpg": ("skipped", "licence_unknown"),
        "Sound.ogg": ("skipped", "not_an_image"),
        "Odd.jpg": ("failed", "non_standard_width"),
        "Nothumb.jpg": ("skipped", "no_thumbnail"),
    }
    items, decided = plan_work(rows, free_licences_only=False)
    assert {i.file_name for i in items} == {"A.jpg", "Fair.jpg", "Unknown.jpg"}


# --------------------------------------------------------------------------- fetch_media over a fake upload host


def _fetcher(settings, fake_upload, **kw):
    return ThumbnailFetcher(settings, MediaStore(settings.media_root), session=fake_upload.session(),
                            policy=RetryPolicy(max_attempts=2, backoff_initial_s=0), sleep=lambda s: None, **kw)


def _route(fake_upload, name: str, route: Route) -> dict:
    row = meta(name)
    fake_upload.routes[f"/thumb/x/xx/{name}/330px-{name}"] = route
    return row


def test_fetch_media_outcomes_and_lake_rows(settings, lake, fake_upload):
    rows = [
        _route(fake_upload, "Good.jpg", Route(jpeg_bytes())),
        _route(fake_upload, "Gone.jpg", Route(b"", 404)),
        _route(fake_upload, "Cut.jpg", Route(jpeg_bytes()[:500], declared_length=len(jpeg_bytes()))),
        _route(fake_upload, "Broken.jpg", Route(b"\xff\xd8\xff garbage")),
        _route(fake_upload, "Bomb.png", Route(png_header_bomb(30000, 30000))),
        _route(fake_upload, "Private.jpg", Route(jpeg_bytes(), headers={"X-Robots-Tag": "noai"})),
        meta("Fair.jpg", licence="Fair use"),
        meta("Odd.jpg", url=f"{UPLOAD}/thumb/x/xx/Odd.jpg/300px-Odd.jpg"),
    ]
    summary = fetch_media(settings, rows, fetcher=_fetcher(settings, fake_upload), lake=lake, wiki="samplewiki",
                          snapshot="20250101")
    assert summary.fetched == 1
    assert summary.total == 8
    assert summary.failed == {"http_404": 1, "truncated": 1, "corrupt": 1, "decompression_bomb": 1,
                              "non_standard_width": 1}
    assert summary.skipped_reasons == {"not_free": 1, "opt_out": 1}
    assert "/thumb/x/xx/Odd.jpg/300px-Odd.jpg" not in fake_upload.hits  # never requested
    assert fake_upload.hits["/thumb/x/xx/Cut.jpg/330px-Cut.jpg"] == 3  # retried twice, then given up
    media = {r["file_name"]: r for r in lake.read("media", "samplewiki", "20250101").to_pylist()}
    good = media["Good.jpg"]
    assert good["status"] == "ok"
    assert good["width"] == 330
    assert good["path"] == f"{good['sha1'][:2]}/{good['sha1']}.jpg"
    assert (settings.media_root / good["path"]).read_bytes() == jpeg_bytes()
    assert media["Private.jpg"]["status"] == "skipped"
    assert media["Private.jpg"]["path"] is None
    assert not list((settings.media_root / good["sha1"][:2]).glob(".*.tmp"))

    before = fake_upload.total
    again = fetch_media(settings, rows, fetcher=_fetcher(settings, fake_upload))
    assert fake_upload.total == before  # finished shard: nothing is requested again
    assert again.fetched == 0
    assert again.already_present == 1
    assert again.shards_resumed == 1
    assert again.failed == summary.failed


def test_interrupted_shard_resumes_without_refetching(settings, fake_upload):
    rows = [_route(fake_upload, f"Img_{i:02d}.jpg", Route(jpeg_bytes(color=(i, 2 * i, 3 * i)))) for i in range(20)]
    fake_upload.interrupt_after = 7
    with pytest.raises(KeyboardInterrupt):
        fetch_media(settings, rows, fetcher=_fetcher(settings, fake_upload), shard_size=8, workers=1)
    done_first = set(fake_upload.hits)
    assert len(done_first) == 7
    assert not list((settings.media_root / "_shards").glob("*.done"))  # shard 0 (8 items) unfinished

    fake_upload.interrupt_after = None
    summary = fetch_media(settings, rows, fetcher=_fetcher(settings, fake_upload), shard_size=8)
    assert summary.fetched == 13
    assert summary.already_present == 7
    assert all(n == 1 for n in fake_upload.hits.values())  # nothing fetched twice
    assert len(list((settings.media_root / "_shards").glob("*.done"))) == 3


def test_403_stops_the_run(settings, fake_upload):
    rows = [_route(fake_upload, f"Img_{i}.jpg", Route(b"UA policy", 403)) for i in range(5)]
    with pytest.raises(SourceError, match="403"):
        fetch_media(settings, rows, fetcher=_fetcher(settings, fake_upload), workers=1)
    assert fake_upload.total <= 2


def test_retry_after_on_429_is_honoured(settings, fake_upload):
    sleeps: list[float] = []
    row = _route(fake_upload, "Busy.jpg", Route(jpeg_bytes()))
    calls = {"n": 0}
    original = fake_upload.handle

    def flaky(request):
        calls["n"] += 1
        if calls["n"] == 1:
            from tests.unit.commons_fakes import make_response

            return make_response(request, 429, b"", {"Retry-After": "4"})
        return original(request)

    session = fake_upload.session()
    from tests.unit.commons_fakes import FakeAdapter

    session.mount("http://upload.test/", FakeAdapter(flaky))
    fetcher = ThumbnailFetcher(settings, MediaStore(settings.media_root), session=session,
                               policy=RetryPolicy(max_attempts=3, backoff_initial_s=1), sleep=sleeps.append)
    summary = fetch_media(settings, [row], fetcher=fetcher)
    assert summary.fetched == 1
    assert sleeps == [4.0]
    assert summary.throttled == 1


def test_licence_filter_can_be_turned_off(settings, fake_upload):
    rows = [_route(fake_upload, "Fair.jpg", Route(jpeg_bytes()))]
    rows[0]["licence_short_name"] = "Fair use"
    assert fetch_media(settings, rows, fetcher=_fetcher(settings, fake_upload)).skipped_reasons == {"not_free": 1}
    assert fake_upload.total == 0
    open_settings = settings.replace(free_licences_only=False)
    assert fetch_media(open_settings, rows, fetcher=_fetcher(open_settings, fake_upload)).fetched == 1


def test_stored_images_decode(settings, fake_upload):
    rows = [_route(fake_upload, "Good.jpg", Route(jpeg_bytes(330, 100)))]
    summary = fetch_media(settings, rows, fetcher=_fetcher(settings, fake_upload))
    (record,) = summary.records
    with Image.open(io.BytesIO((settings.media_root / record["path"]).read_bytes())) as img:
        assert img.size == (330, 100)


def test_retry_after_pauses_the_other_workers_too():
    """A Retry-After addresses the client: the next request of *any* worker waits for it."""
    from wikivis.sources.http import Cooldown

    clock = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    cooldown = Cooldown(clock=lambda: clock[0], sleep=sleep)
    cooldown.block(3)
    assert cooldown.wait() == 3.0
    assert cooldown.wait() == 0.0
    assert sleeps == [3.0]


THUMB_500 = (
    b"<!DOCTYPE html>\n<html lang=\"en\"><head><title>Wikimedia Error</title></head><body>"
    b"<h1>Error</h1><p>Error generating thumbnail: Error creating thumbnail: convert: improper image header"
    b" `/tmp/transform_6b1b2b5b4c5a-1.jpg' @ error/jpeg.c/ReadJPEGImage/1103.</p></body></html>\n"
)


class _WatchedLimiter:
    """A concurrency limiter that knows how many slots are held right now."""

    def __init__(self, limit: int = 2) -> None:
        from wikivis.sources.http import ConcurrencyLimiter

        self.inner = ConcurrencyLimiter(limit)
        self.limit = limit
        self.held = 0

    def slot(self):
        from contextlib import contextmanager

        @contextmanager
        def held():
            with self.inner.slot():
                self.held += 1
                try:
                    yield
                finally:
                    self.held -= 1

        return held()


def test_thumbnail_500_goes_to_the_end_of_the_shard_and_never_sleeps_in_a_slot(settings, fake_upload):
    """A 500 ("Error generating thumbnail") is not retried in line: the item is tried again
    after the rest of its shard, at most twice, then failed with its reason.  No wait ever
    happens while a connection slot is held."""
    from tests.unit.commons_fakes import FakeAdapter, make_response

    rows = [_route(fake_upload, f"Img_{i:02d}.jpg", Route(jpeg_bytes(color=(i, i, i)))) for i in range(6)]
    rows.append(_route(fake_upload, "Broken.jpg", Route(THUMB_500, 500, {"Content-Type": "text/html"})))
    rows.append(_route(fake_upload, "Once.jpg", Route(jpeg_bytes(color=(9, 9, 9)))))
    rows.append(_route(fake_upload, "Busy.jpg", Route(jpeg_bytes(color=(7, 7, 7)))))
    order: list[str] = []
    seen: dict[str, int] = {}
    original = fake_upload.handle

    def handle(request):
        name = request.url.rsplit("/", 1)[1].removeprefix("330px-")
        order.append(name)
        seen[name] = seen.get(name, 0) + 1
        if name == "Once.jpg" and seen[name] == 1:
            return make_response(request, 500, THUMB_500, {"Content-Type": "text/html"})
        if name == "Busy.jpg" and seen[name] == 1:
            return make_response(request, 503, b"busy", {"Retry-After": "2"})
        return original(request)

    session = fake_upload.session()
    session.mount("http://upload.test/", FakeAdapter(handle))
    limiter = _WatchedLimiter()
    slept_holding: list[int] = []
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        slept_holding.append(limiter.held)

    fetcher = ThumbnailFetcher(settings, MediaStore(settings.media_root), session=session, limiter=limiter,
                               policy=RetryPolicy(max_attempts=6, backoff_initial_s=0.5), sleep=sleep)
    summary = fetch_media(settings, rows, fetcher=fetcher, workers=1)
    assert summary.failed == {"http_500": 1}
    assert summary.fetched == 8
    assert seen["Broken.jpg"] == 1 + 2  # first try + at most two deferred retries
    assert seen["Once.jpg"] == 2
    assert seen["Busy.jpg"] == 2  # a 503 with Retry-After is waited out (slot released), in line
    assert summary.deferred == 3
    first_retry = order.index("Broken.jpg", order.index("Broken.jpg") + 1)
    assert set(order[:first_retry]) >= {r["file_name"] for r in rows}  # retried after the rest of the shard
    # the 503's Retry-After (later workers wait out the rest of the shared cooldown: fake time
    # does not pass); never a backoff for the 500s
    assert sleeps[0] == 2.0
    assert all(0 < s <= 2.0 for s in sleeps) and 0.5 not in sleeps
    assert set(slept_holding) == {0}  # nobody sleeps while holding one of the two slots
    (broken,) = [r for r in summary.records if r["file_name"] == "Broken.jpg"]
    assert (broken["status"], broken["reason"]) == ("failed", "http_500")
