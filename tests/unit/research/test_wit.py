"""``wikivis research import-wit`` and ``wikivis export wit``: WIT's layout ↔ the lake."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest
from typer.testing import CliRunner

from wikivis.cli import _common
from wikivis.cli import app as wikivis_app
from wikivis.errors import InputError, NotFoundError
from wikivis.research.files import WIT_COLUMNS, read_wit
from wikivis.research.wit import export_wit, import_wit, upload_url, wiki_of_language, wit_page_id


def wit_row(**values: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(WIT_COLUMNS, "")
    row.update(original_height=480, original_width=640, is_main_image="false", mime_type="image/jpeg")
    row.update(values)
    return row


ROWS = [
    wit_row(language="en", page_url="https://en.wikipedia.org/wiki/Red_fox", image_url=upload_url("Fox.jpg"),
            page_title="Red fox", caption_reference_description="A red fox\tin snow",  # quoted tab
            caption_attribution_description="English: a fox", caption_alt_text_description="fox lying down",
            is_main_image="true", context_page_description="long\ntext"),
    wit_row(language="en", page_url="https://en.wikipedia.org/wiki/Red_fox", image_url=upload_url("Den.jpg"),
            page_title="Red fox", caption_reference_description="A den"),
    wit_row(language="ar", page_url="https://ar.wikipedia.org/wiki/%D8%AB%D8%B9%D9%84%D8%A8",
            image_url=upload_url("Fox.jpg"), page_title="ثعلب", caption_reference_description="ثعلب أحمر",
            caption_attribution_description="ثعلب"),
    wit_row(language="zh-TW", page_url="https://zh.wikipedia.org/wiki/X", image_url="https://example.org/x.png"),
]


def write_wit(path, rows) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(WIT_COLUMNS), delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(gzip.compress(buf.getvalue().encode()))


def test_import_maps_rows_onto_datasets(lake, tmp_path) -> None:
    path = tmp_path / "wit_v1.train.all-00000-of-00010.tsv.gz"
    write_wit(path, ROWS)
    summary = import_wit(lake, path, "20260101", publish=True)
    assert summary.rows == 4
    assert summary.skipped == {"unmapped_url": 1}
    assert summary.wikis == {"arwiki": 1, "enwiki": 2}
    pid = wit_page_id("enwiki", "Red_fox")
    assert pid < 0
    pages = lake.read("pages", "enwiki").to_pylist()
    assert [(p["page_id"], p["page_title"]) for p in pages] == [(pid, "Red_fox")]
    images = {r["file_name"]: r["is_lead"] for r in lake.read("article_images", "enwiki").to_pylist()}
    assert images == {"Fox.jpg": True, "Den.jpg": False}
    caps = lake.read("article_image_captions", "enwiki").to_pylist()
    assert [(c["position"], c["file_name"], c["caption"], c["alt"]) for c in caps] == [
        (0, "Fox.jpg", "A red fox\tin snow", "fox lying down"),
        (1, "Den.jpg", "A den", None),
    ]
    assert lake.read("article_image_captions", "arwiki").column("caption").to_pylist() == ["ثعلب أحمر"]
    fc = {(r["file_name"], r["language"]): r["text"] for r in lake.read("file_captions", "commonswiki").to_pylist()}
    assert fc == {("Fox.jpg", "en"): "English: a fox", ("Fox.jpg", "ar"): "ثعلب"}


def test_export_round_trips_through_import(lake, tmp_path) -> None:
    path = tmp_path / "in.tsv.gz"
    write_wit(path, ROWS)
    import_wit(lake, path, "20260101", publish=True)
    out = tmp_path / "out" / "wit-enwiki.tsv.gz"
    assert export_wit(lake, "enwiki", out) == 2
    rows = list(read_wit(out))
    assert [r["caption_reference_description"] for r in rows] == ["A den", "A red fox\tin snow"]
    assert rows[1]["caption_attribution_description"] == "English: a fox"
    assert rows[1]["is_main_image"] is True
    assert rows[1]["page_url"] == "https://en.wikipedia.org/wiki/Red_fox"
    assert rows[1]["file_name"] == "Fox.jpg"
    again = lake.__class__(tmp_path / "lake2")
    import_wit(again, out, "20260102", publish=True)
    assert again.read("article_image_captions", "enwiki").column("caption").to_pylist() == [
        "A den",
        "A red fox\tin snow",
    ]


def test_export_without_data_is_not_found(lake, tmp_path) -> None:
    with pytest.raises(NotFoundError, match="article_images"):
        export_wit(lake, "enwiki", tmp_path / "x.tsv")


def test_unpublished_by_default(lake, tmp_path) -> None:
    path = tmp_path / "in.tsv.gz"
    write_wit(path, ROWS[:1])
    import_wit(lake, path, "20260101")
    assert lake.current("pages", "enwiki") is None
    assert lake.exists("pages", "enwiki", "20260101")


def test_hostile_wit_files(tmp_path) -> None:
    truncated = tmp_path / "t.tsv.gz"
    write_wit(truncated, ROWS * 200)
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(InputError, match="cannot read") as info:
        list(read_wit(truncated))
    assert str(truncated) in str(info.value)
    bad = tmp_path / "b.tsv"
    bad.write_text("\t".join(WIT_COLUMNS) + "\n" + "\t".join(["en"] * 5) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        list(read_wit(bad))
    with pytest.raises(ValueError):
        wiki_of_language("en/../x")


def test_cli_import_and_export(settings, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(_common.STATE, "_settings", settings)
    monkeypatch.setattr(_common.STATE, "as_json", False)
    path = tmp_path / "in.tsv.gz"
    write_wit(path, ROWS)
    runner = CliRunner()
    result = runner.invoke(wikivis_app, ["--json", "research", "import-wit", str(path), "--publish"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["written"]["pages/enwiki"] == 1
    out = tmp_path / "wit.tsv"
    result = runner.invoke(wikivis_app, ["export", "wit", "--wiki", "arwiki", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_text("utf-8").splitlines()[0].split("\t") == list(WIT_COLUMNS)
