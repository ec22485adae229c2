"""The gates on the sample wiki's realistic tables and images (no servers needed, but the
whole sample: every table of two dump days, every non-SVG file as a thumbnail).

The lake tables are built here with a minimal join of the MediaWiki tables (the ingest stage
does the same job for real); what is under test is that clean sample data passes every gate,
that the sample's shared icons (flags, ``Map_icon.png``, ``Noimage.png``) are set aside by
Wikimedia's filters, and that corrupting one day's data is caught.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from PIL import Image

from wikivis.datasets import base36_to_hex, schema
from wikivis.errors import GateFailed
from wikivis.gates.stages import gate_media, gate_tables

pytestmark = pytest.mark.integration


def lake_tables(sample, day: int) -> dict[str, pa.Table]:
    tables = sample.state(day).tables
    wiki = sample.wiki
    pages = {p["page_id"]: p for p in tables["page"] if p["page_namespace"] == 0}
    targets = {t["lt_id"]: t["lt_title"] for t in tables["linktarget"] if t["lt_namespace"] == 6}
    leads = {(pp["pp_page"], pp["pp_value"]) for pp in tables["page_props"] if pp["pp_propname"] == "page_image"}
    images = [
        {"wiki": wiki, "page_id": il["il_from"], "page_namespace": 0, "page_title": pages[il["il_from"]]["page_title"],
         "file_name": targets[il["il_target_id"]], "is_lead": (il["il_from"], targets[il["il_target_id"]]) in leads}
        for il in tables["imagelinks"]
        if il["il_from"] in pages and il["il_target_id"] in targets
    ]
    files = [
        {"wiki": sample.commons_wiki, "file_name": f["img_name"], "size": f["img_size"], "width": f["img_width"],
         "height": f["img_height"], "media_type": f["img_media_type"], "mime": f"{f['img_major_mime']}/{f['img_minor_mime']}",
         "sha1": base36_to_hex(f["img_sha1"]), "timestamp": f["img_timestamp"]}
        for f in tables["image"]
    ]
    return {
        "pages": pa.Table.from_pylist(
            [{"wiki": wiki, "page_id": p["page_id"], "page_namespace": 0, "page_title": p["page_title"],
              "is_redirect": bool(p["page_is_redirect"])} for p in pages.values()], schema=schema("pages")),
        "article_images": pa.Table.from_pylist(images, schema=schema("article_images")),
        "files": pa.Table.from_pylist(files, schema=schema("files")),
    }


def fill(lake, sample, days=(0, 1)) -> str:
    for day in days:
        snap = sample.dates[day]
        for dataset, table in lake_tables(sample, day).items():
            lake.write(dataset, sample.commons_wiki if dataset == "files" else sample.wiki, snap, table)
    return sample.dates[days[-1]]


def as_of(snapshot: str) -> datetime:
    return datetime.strptime(snapshot, "%Y%m%d").replace(tzinfo=__import__("datetime").UTC) + timedelta(days=1)


def test_sample_tables_pass_and_icons_are_set_aside(settings, lake, sample_wiki):
    snap = fill(lake, sample_wiki)
    report = gate_tables(settings, lake, sample_wiki.wiki, snap, now=as_of(snap))
    assert report.ok, report.summary()
    quarantined = lake.read("quarantine", sample_wiki.wiki, snap).to_pylist()
    names = {r["row_key"] for r in quarantined}
    assert any("flag" in n.lower() for n in names), names
    assert {r["check"] for r in quarantined} <= {"overused_image", "blacklisted_name"}
    assert report.result("wikimedia_filters").metrics["n_articles"] > 0


def test_corrupted_day_is_caught(settings, lake, sample_wiki):
    snap = fill(lake, sample_wiki)
    images = lake.read("article_images", sample_wiki.wiki, snap)
    lake.write("article_images", sample_wiki.wiki, snap, images.slice(0, images.num_rows // 3))
    with pytest.raises(GateFailed, match="article_images: check 'row_count_drift' failed"):
        gate_tables(settings, lake, sample_wiki.wiki, snap, now=as_of(snap))


def test_sample_thumbnails_pass_the_media_gate(settings, lake, sample_wiki):
    snap = fill(lake, sample_wiki, days=(0,))
    files = lake.read("files", sample_wiki.commons_wiki, snap).to_pylist()
    rows = []
    for f in files:
        if f["mime"] not in ("image/jpeg", "image/png"):
            continue
        img = Image.open(io.BytesIO(sample_wiki.file_bytes(f["file_name"], day=0)))
        img.thumbnail((330, 330 * 8))  # a 330px-wide thumbnail, as the media stage stores
        buf = io.BytesIO()
        fmt = "PNG" if f["mime"] == "image/png" else "JPEG"
        img.convert("RGB").save(buf, fmt)
        rel = f"{f['sha1'][:2]}/{f['sha1']}.{'png' if fmt == 'PNG' else 'jpg'}"
        (settings.media_root / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings.media_root / rel).write_bytes(buf.getvalue())
        rows.append({"sha1": f["sha1"], "file_name": f["file_name"], "path": rel, "width": img.width,
                     "height": img.height, "bytes": len(buf.getvalue()), "status": "ok", "reason": None})
    lake.write("media", sample_wiki.wiki, snap, pa.Table.from_pylist(rows, schema=schema("media")))
    relaxed = settings.replace(gate_max_bad_image_fraction=0.2)  # the sample's small icons are set aside
    report = gate_media(relaxed, lake, sample_wiki.wiki, snap, now=as_of(snap))
    assert report.result("decodable").outcome == "pass", report.summary()
    quarantined = lake.read("quarantine", sample_wiki.wiki, snap).to_pylist()
    assert {r["dataset"] for r in quarantined} >= {"media"}
