"""Image checks on the media dataset and the thumbnails on disk."""

from __future__ import annotations

import pyarrow as pa
import pytest
from PIL import ImageFile

from tests.unit.gates.conftest import clean_media, jpeg_bytes, png_bytes, replace_column, sha1_of, write_media
from wikivis.gates.images import check_media, inspect_image


def run(media: pa.Table, settings, **kw):
    results, quarantine = check_media(media, settings=settings, workers=2, **kw)
    return {r.name: r for r in results}, quarantine


def reasons(quarantine: pa.Table) -> dict[str, str]:
    return {r["row_key"]: r["check"] for r in quarantine.to_pylist()}


def test_clean_thumbnails_pass(settings):
    media = clean_media(settings.media_root)
    results, quarantine = run(media, settings)
    assert {r.outcome for r in results.values()} == {"pass"}, [r.describe() for r in results.values()]
    assert quarantine.num_rows == 0


def test_truncated_jpeg_is_caught_and_quarantined(settings):
    media = clean_media(settings.media_root, n=3)
    whole = jpeg_bytes(120, 90, 9)
    media = pa.concat_tables([media, write_media(settings.media_root, [("Cut_off.jpg", whole[: len(whole) // 2], 120, 90)])])
    results, quarantine = run(media, settings)
    result = results["decodable"]
    assert result.outcome == "fail"  # 1 of 4 is above the tolerated 2%
    text = result.describe()
    assert text.startswith("media: check 'decodable' failed")
    assert "Cut_off.jpg" in text
    assert reasons(quarantine) == {sha1_of("Cut_off.jpg"): "decodable"}


def test_truncation_is_caught_even_when_pillow_tolerates_it(settings, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    whole = jpeg_bytes(120, 90, 4)
    path = settings.media_root / "cut.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(whole[: int(len(whole) * 0.7)])
    assert "truncated JPEG" in (inspect_image(path).error or "")


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("garbage", b"this is not an image at all" * 10),
        ("empty", b""),
        ("broken png", png_bytes()[:40] + b"\x00" * 40 + png_bytes()[80:]),
    ],
)
def test_undecodable_files(settings, label, data):
    media = write_media(settings.media_root, [("Broken.jpg", data, 100, 100)])
    results, _ = run(media, settings)
    assert results["decodable"].outcome == "fail", label
    assert "Broken.jpg" in results["decodable"].describe()


def test_missing_file_and_wrong_recorded_size(settings):
    media = clean_media(settings.media_root, n=2)
    paths = media.column("path").to_pylist()
    paths[0] = "zz/does-not-exist.jpg"
    results, _ = run(replace_column(media, "path", paths), settings)
    assert "file not found" in results["decodable"].message

    wrong = replace_column(clean_media(settings.media_root, n=2), "width", [999, 120], pa.int32())
    results, _ = run(wrong, settings)
    assert "differs from the recorded 999×90" in results["decodable"].message


def test_tiny_image_is_set_aside(settings):
    media = pa.concat_tables([
        clean_media(settings.media_root, n=3),
        write_media(settings.media_root, [("Tiny_bullet.jpg", jpeg_bytes(20, 20, 1), 20, 20)]),
    ])
    results, quarantine = run(media, settings)
    result = results["min_size"]
    assert result.outcome == "fail"
    assert "Tiny_bullet.jpg" in result.describe()
    assert "20×20 px" in result.message
    assert reasons(quarantine)[sha1_of("Tiny_bullet.jpg")] == "min_size"
    assert results["decodable"].outcome == "pass"


def test_elongated_image_is_set_aside(settings):
    media = pa.concat_tables([
        clean_media(settings.media_root, n=3),
        write_media(settings.media_root, [("Panorama_strip.jpg", jpeg_bytes(700, 60, 2), 700, 60)]),
    ])
    results, quarantine = run(media, settings)
    assert results["aspect_ratio"].outcome == "fail"
    assert "Panorama_strip.jpg" in results["aspect_ratio"].describe()
    assert reasons(quarantine)[sha1_of("Panorama_strip.jpg")] == "aspect_ratio"


def test_a_bad_share_within_tolerance_only_warns(settings):
    settings = settings.replace(gate_max_bad_image_fraction=0.5)
    media = pa.concat_tables([
        clean_media(settings.media_root, n=3),
        write_media(settings.media_root, [("Tiny.jpg", jpeg_bytes(20, 20, 1), 20, 20)]),
    ])
    results, quarantine = run(media, settings)
    assert results["min_size"].outcome == "warn"
    assert quarantine.num_rows == 1


def test_fetch_failures_warn(settings):
    media = clean_media(settings.media_root, n=3)
    status = ["ok", "failed", "ok"]
    broken = replace_column(replace_column(media, "status", status), "reason", [None, "HTTP 404", None], pa.string())
    results, _ = run(broken, settings)
    assert results["fetch_status"].outcome == "warn"
    assert "HTTP 404" in results["fetch_status"].describe()
    assert results["decodable"].metrics["checked"] == 2


def test_blacklisted_and_overused_files_are_quarantined_not_failed(settings):
    media = pa.concat_tables([
        clean_media(settings.media_root, n=3),
        write_media(settings.media_root, [("Flag_of_Somewhere.jpg", jpeg_bytes(120, 90, 5), 120, 90)]),
    ])
    links = pa.Table.from_pylist(
        [{"page_id": p, "page_namespace": 0, "file_name": "Photo_1_a.jpg"} for p in range(1, 10)]
        + [{"page_id": 1, "page_namespace": 0, "file_name": "Photo_2_a.jpg"}]
    )
    results, quarantine = run(media, settings, article_images=links, n_articles=300)
    assert {r.outcome for r in results.values()} == {"pass"}
    assert results["wikimedia_filters"].metrics == {"overused": 1, "blacklisted": 1, "over_use_checked": True}
    assert reasons(quarantine) == {sha1_of("Flag_of_Somewhere.jpg"): "blacklisted_name", sha1_of("Photo_1_a.jpg"): "overused_image"}
    assert set(quarantine.column("dataset").to_pylist()) == {"media"}
