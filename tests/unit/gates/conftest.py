"""Hand-made clean frames for the gate tests; each test injects one corruption."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from PIL import Image

from wikivis.datasets import schema

WIKI = "samplewiki"
SNAPSHOT = "20240301"
PREVIOUS = "20240220"
#: "now" for freshness: ten days after SNAPSHOT
NOW = datetime(2024, 3, 11, tzinfo=UTC)


def pages_table(n: int = 40, wiki: str = WIKI) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"wiki": wiki, "page_id": i, "page_namespace": 0, "page_title": f"Article_{i}", "is_redirect": i % 10 == 0}
            for i in range(1, n + 1)
        ],
        schema=schema("pages"),
    )


def article_images_table(n_pages: int = 40, wiki: str = WIKI) -> pa.Table:
    """Two images per page, the first the lead; ``Shared_banner.jpg`` on every page (an icon)."""
    rows = []
    for page in range(1, n_pages + 1):
        for k, name in enumerate((f"Photo_{page}_a.jpg", f"Photo_{page}_b.jpg")):
            rows.append({"wiki": wiki, "page_id": page, "page_namespace": 0, "page_title": f"Article_{page}",
                         "file_name": name, "is_lead": k == 0})
        rows.append({"wiki": wiki, "page_id": page, "page_namespace": 0, "page_title": f"Article_{page}",
                     "file_name": "Shared_banner.jpg", "is_lead": False})
    rows.sort(key=lambda r: (r["page_id"], r["file_name"]))
    return pa.Table.from_pylist(rows, schema=schema("article_images"))


def sha1_of(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def files_table(names: list[str], wiki: str = "commonswiki") -> pa.Table:
    rows = [
        {"wiki": wiki, "file_name": name, "size": 1000 + i, "width": 640, "height": 480, "media_type": "BITMAP",
         "mime": "image/jpeg", "sha1": sha1_of(name), "timestamp": "20240101120000"}
        for i, name in enumerate(sorted(names))
    ]
    return pa.Table.from_pylist(rows, schema=schema("files"))


def all_file_names(images: pa.Table) -> list[str]:
    return sorted(set(images.column("file_name").to_pylist()))


def jpeg_bytes(width: int = 120, height: int = 90, seed: int = 0) -> bytes:
    img = Image.new("RGB", (width, height), ((seed * 37) % 256, (seed * 91) % 256, 128))
    for x in range(0, width, 7):  # some structure, so the JPEG has real scan data
        for y in range(0, height, 5):
            img.putpixel((x, y), ((x * seed) % 256, (y * 3) % 256, (x + y) % 256))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def png_bytes(width: int = 100, height: int = 100) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def write_media(media_root: Path, items: list[tuple[str, bytes, int, int]]) -> pa.Table:
    """Store (file_name, bytes, width, height) thumbnails; return the ``media`` table."""
    rows = []
    for name, data, width, height in items:
        sha1 = sha1_of(name)
        ext = "png" if data.startswith(b"\x89PNG") else "jpg"
        rel = f"{sha1[:2]}/{sha1}.{ext}"
        (media_root / sha1[:2]).mkdir(parents=True, exist_ok=True)
        (media_root / rel).write_bytes(data)
        rows.append({"sha1": sha1, "file_name": name, "path": rel, "width": width, "height": height,
                     "bytes": len(data), "status": "ok", "reason": None})
    return pa.Table.from_pylist(rows, schema=schema("media"))


def clean_media(media_root: Path, n: int = 12) -> pa.Table:
    return write_media(media_root, [(f"Photo_{i}_a.jpg", jpeg_bytes(120, 90, i), 120, 90) for i in range(1, n + 1)])


def replace_column(table: pa.Table, name: str, values: list, type_: pa.DataType | None = None) -> pa.Table:
    index = table.column_names.index(name)
    field = table.schema.field(name)
    array = pa.array(values, type=type_ or field.type)
    return table.set_column(index, pa.field(name, array.type, nullable=True), array)
