"""The upload server: upload.wikimedia.org's originals and thumbnails for the sample files.

* original: ``/wikipedia/commons/<h0>/<h0h1>/<Name>`` where ``h = md5(Name)`` (Name with
  underscores, hashed as UTF-8 bytes), percent-encoded in the URL.
* thumbnail: ``/wikipedia/commons/thumb/<h0>/<h0h1>/<Name>/<W>px-<Name>``; an SVG's
  thumbnail is a PNG and its last segment gets ``.png`` appended.  Only the standard widths
  (:data:`wikivis.config.STANDARD_THUMB_WIDTHS`) are served; any other width gets **HTTP 400
  "Use thumbnail sizes listed on https://w.wiki/GHai"** (Wikimedia's answer since the
  2025/26 thumbnail standardisation, T414805) and is counted in
  ``stats["nonstandard_widths"]``.  A bitmap thumbnail at or above the original width is
  refused (400) like Thumbor does; SVGs scale up.  Thumbnails are really resized with
  Pillow (Lanczos) and cached.
* politeness: at most 2 requests in flight per client IP (the robot policy's total
  concurrency) — more get **429** with ``Retry-After``; optional total bandwidth cap
  (``bandwidth_bytes_per_s``) and per-request latency.

* broken files: with ``thumb_error_rate`` (the "thumb500" fault profile: 1 %) that fraction
  of the files, chosen by a hash of the name, cannot be thumbnailed — every thumbnail request
  for one answers **500** with Wikimedia's HTML error page "Error generating thumbnail:
  Error creating thumbnail: …" (the page, headers and wording of upload.wikimedia.org's
  Thumbor failures); their originals are served.

The files are the *current* versions (the mirror's ``day``); earlier versions are not
served, as on upload.wikimedia.org where an overwrite moves the old file to ``archive/``.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from PIL import Image

from wikivis.config import STANDARD_THUMB_WIDTHS
from wikivis.mirror.base import Request, Response, Service, byte_range
from wikivis.mirror.faults import FaultProfile
from wikivis.sample import SampleWiki

NONSTANDARD_BODY = "Use thumbnail sizes listed on https://w.wiki/GHai\n"
#: upload.wikimedia.org's page for a thumbnail Thumbor could not render (HTTP 500)
THUMB_ERROR_PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<meta charset="utf-8">\n<title>Wikimedia Error</title>\n'
    '<div class="content" role="main">\n<a href="https://www.wikimedia.org"><img '
    'src="https://www.wikimedia.org/static/images/wmf-logo.png" alt="Wikimedia" width="135" height="101"></a>\n'
    "<h1>Error</h1>\n<p>Error generating thumbnail: Error creating thumbnail: convert: {name}: improper image "
    "header `/tmp/transform_{token}-1.{ext}' @ error/{ext}.c/Read{fmt}Image/1103.</p>\n</div>\n"
    '<div class="footer"><p>If you report this error to the Wikimedia System Administrators, please include '
    'the details below.</p><p class="text-muted"><code>Request served via cp3066 cp3066, Varnish XID 907{xid}'
    "<br>Upstream caches: cp3066 int<br>Error: 500, Internal Server Error at {when}</code></p></div>\n</html>\n"
)
PREFIX = "/wikipedia/commons/"
#: characters MediaWiki's wfUrlencode leaves unescaped in paths
_SAFE = ";@$!*(),/~:"


def hash_path(name: str) -> str:
    """``<h0>/<h0h1>`` for a file name (underscored DB key)."""
    digest = hashlib.md5(name.encode("utf-8")).hexdigest()
    return f"{digest[0]}/{digest[:2]}"


def url_name(name: str) -> str:
    return quote(name, safe=_SAFE)


def original_path(name: str) -> str:
    return f"{PREFIX}{hash_path(name)}/{url_name(name)}"


def thumb_name(name: str, width: int) -> str:
    return f"{width}px-{name}" + (".png" if name.lower().endswith(".svg") else "")


def thumb_path(name: str, width: int) -> str:
    return f"{PREFIX}thumb/{hash_path(name)}/{url_name(name)}/{url_name(thumb_name(name, width))}"


def thumb_broken(name: str, rate: float) -> bool:
    """Whether ``name`` is one of the ``rate`` fraction of files Thumbor cannot render (stable)."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) < rate * 0x1_0000_0000


def thumb_size(width: int, height: int, target: int) -> tuple[int, int]:
    return target, max(1, round(height * target / width))


class UploadService(Service):
    name = "upload"
    max_per_client = 2
    over_limit_status = 429

    def __init__(self, sample: SampleWiki, faults: FaultProfile, *, day: int | None = None, cache_size: int = 512) -> None:
        super().__init__(faults)
        self.sample = sample
        self.day = sample.n_days if day is None else day
        self._thumbs: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._thumb_lock = threading.Lock()
        self.cache_size = cache_size
        self._index: tuple[int, dict[str, dict[str, Any]]] | None = None
        self.thumb_error_rate = faults.thumb_error_rate  # fraction of files whose thumbnails answer 500

    def _row(self, name: str) -> dict[str, Any] | None:
        """The file's current ``image`` row (index rebuilt when the mirror's day changes)."""
        index = self._index
        if index is None or index[0] != self.day:
            index = self._index = (self.day, {r["img_name"]: r for r in self.sample.state(self.day).tables["image"]})
        return index[1].get(name)

    def handle(self, request: Request) -> Response:
        path = request.path
        if not path.startswith(PREFIX):
            return Response.text("Not Found\n", 404)
        parts = path[len(PREFIX) :].split("/")
        if parts[0] == "thumb":
            return self._thumb(request, parts[1:])
        if len(parts) != 3:
            return Response.text("Not Found\n", 404)
        h0, h01, name = parts
        row = self._row(name)
        if row is None or f"{h0}/{h01}" != hash_path(name):
            return Response.text("Not Found\n", 404)
        data = self.sample.file_bytes(name, self.day)
        response = Response(200, data, self.sample.mime(name), payload=True, headers=self._cache_headers(row))
        return byte_range(request, data, response)

    def _thumb(self, request: Request, parts: list[str]) -> Response:
        if len(parts) != 4:
            return Response.text("Not Found\n", 404)
        h0, h01, name, last = parts
        width_text, sep, rest = last.partition("px-")
        if not sep or not width_text.isdigit():
            return Response.text("Not Found\n", 404)
        width = int(width_text)
        if width not in STANDARD_THUMB_WIDTHS:
            with self.lock:
                self.stats.nonstandard_widths += 1
            return Response.text(NONSTANDARD_BODY, 400)
        row = self._row(name)
        if row is None or f"{h0}/{h01}" != hash_path(name) or rest != thumb_name(name, width)[len(f"{width}px-") :]:
            return Response.text("Not Found\n", 404)
        if self.thumb_error_rate and thumb_broken(name, self.thumb_error_rate):
            return self._thumb_error(name, request.number)
        is_svg = row["img_minor_mime"] == "svg+xml"
        if not is_svg and width >= row["img_width"]:
            return Response.text("Error generating thumbnail: Image was not scaled, is the requested width bigger than the source?\n", 400)
        data = self.thumbnail(name, row, width)
        mime = "image/png" if is_svg or row["img_minor_mime"] == "png" else "image/jpeg"
        response = Response(200, data, mime, payload=True, headers=self._cache_headers(row))
        return byte_range(request, data, response)

    def thumbnail(self, name: str, row: dict[str, Any], width: int) -> bytes:
        key = (row["img_sha1"], width)
        with self._thumb_lock:
            if key in self._thumbs:
                self._thumbs.move_to_end(key)
                return self._thumbs[key]
        image = self.sample.file_image(name, self.day)
        size = thumb_size(image.width, image.height, width)
        thumb = image.resize(size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        if row["img_minor_mime"] == "jpeg":
            thumb.save(buf, format="JPEG", quality=80)
        else:
            thumb.save(buf, format="PNG")
        data = buf.getvalue()
        with self._thumb_lock:
            self._thumbs[key] = data
            while len(self._thumbs) > self.cache_size:
                self._thumbs.popitem(last=False)
        return data

    @staticmethod
    def _thumb_error(name: str, number: int) -> Response:
        ext = name.rsplit(".", 1)[-1].lower()
        fmt = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "svg": "SVG"}.get(ext, ext.upper())
        token = hashlib.md5(f"{name}/{number}".encode()).hexdigest()[:12]
        when = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        body = THUMB_ERROR_PAGE.format(name=name, token=token, ext=ext, fmt=fmt, xid=number, when=when)
        return Response(500, body.encode(), "text/html; charset=utf-8",
                        headers={"Cache-Control": "private, s-maxage=0, max-age=0, must-revalidate",
                                 "X-Cache-Status": "int-front"})

    @staticmethod
    def _cache_headers(row: dict[str, Any]) -> dict[str, str]:
        ts = row["img_timestamp"]
        modified = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]} {ts[8:10]}:{ts[10:12]}:{ts[12:14]}"
        when = datetime.strptime(modified, "%Y-%m-%d %H:%M:%S")
        return {
            "Last-Modified": when.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "ETag": f'"{row["img_sha1"][:20]}"',
            "Cache-Control": "public, max-age=31536000",
            "X-Cache-Status": "hit-front",
        }

