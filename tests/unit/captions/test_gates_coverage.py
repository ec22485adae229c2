"""Caption gates (markup, bad alt text) and the coverage figures."""

from __future__ import annotations

import pyarrow as pa
import pytest

from wikivis.captions.build import ExtractStats, collect, merge
from wikivis.captions.coverage import REFERENCE, compute_coverage
from wikivis.datasets import schema
from wikivis.gates.captions import bad_alt_reason, caption_checks, check_bad_alt, check_caption_markup, has_markup


def captions_table(rows: list[tuple[int, int, str, str | None, str | None]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"wiki": "xwiki", "page_id": p, "position": i, "file_name": f, "caption": c, "alt": a, "source": "link"}
         for p, i, f, c, a in rows],
        schema=schema("article_image_captions"),
    )


@pytest.mark.parametrize(
    ("alt", "bad"),
    [("Foo_bar.jpg", True), ("Foo bar.jpg", True), ("foo bar", True), ("File:Foo_bar.jpg", True), ("Other.png", True),
     ("image", True), ("Photograph", True), ("thumbnail.", True), ("A picture", True), ("Bild", True), ("صورة", True),
     ("picture", True), ("A heron standing in water", False), ("Map of Foo", False), (None, False), ("", False)],
)
def test_bad_alt_text(alt, bad):
    assert (bad_alt_reason(alt, "Foo_bar.jpg") is not None) is bad


def test_markup_detection():
    for text in ("a [[link]]", "{{tpl}}", "x ''it''", "'''b'''", "<ref>x</ref>", "<span>x</span>", "a ]] b", "{| table",
                 "__NOTOC__"):
        assert has_markup(text), text
    for text in (None, "", "plain text", "a < b and c > d", "it's O'Brien's", "x = y | z", "[not a link]"):
        assert not has_markup(text), text


def test_checks_quarantine_rows_with_reasons():
    table = captions_table([
        (1, 0, "A.jpg", "Fine caption", "A heron"),
        (1, 1, "B.jpg", "Leftover [[markup", "B.jpg"),
        (2, 0, "C.jpg", None, "photograph"),
        (3, 0, "D.jpg", "ok", None),
    ])
    markup, rows = check_caption_markup(table)
    assert markup.outcome == "fail"  # 1 of 4 rows, far above the tolerance
    assert [r["row_key"] for r in rows] == ["1:1"]
    bad, rows = check_bad_alt(table)
    assert bad.outcome == "warn" and bad.metrics["bad_alt"] == 2 and bad.metrics["with_alt"] == 3
    assert {r["row_key"]: r["check"] for r in rows} == {"1:1": "bad_alt", "2:0": "bad_alt"}
    assert "file name" in rows[0]["reason"]
    results, quarantine = caption_checks(table)
    assert quarantine.schema == schema("quarantine") and quarantine.num_rows == 3
    assert {r.name for r in results} == {"caption_markup", "bad_alt"}
    clean, _ = check_caption_markup(captions_table([(1, 0, "A.jpg", "Fine", None)]))
    assert clean.outcome == "pass"


def test_coverage_counts_article_images_with_a_caption_or_alt():
    images = pa.table({"page_id": [1, 1, 2, 2, 3], "file_name": ["A.jpg", "Icon.svg", "B.jpg", "C.jpg", "D.jpg"]})
    captions = captions_table([
        (1, 0, "A.jpg", "A caption", "A good description"),
        (1, 1, "A.jpg", None, None),  # the same image twice: counted once
        (2, 0, "B.jpg", "B caption", "image"),
        (2, 1, "Z.jpg", "not in article_images", "x"),
    ])
    cov = compute_coverage(images, captions)
    assert cov["images"] == 5 and cov["captioned"] == 2 and cov["with_alt"] == 2 and cov["with_good_alt"] == 1
    assert cov["caption_share"] == 0.4 and cov["alt_share"] == 0.4 and cov["bad_alt"] == 1
    assert cov["reference"] == REFERENCE == {"caption_share": 0.43, "alt_share": 0.10}


def test_collect_and_merge_replace_refreshed_pages():
    stats = ExtractStats()
    old = collect("xwiki", [(2, "[[File:B.jpg|thumb|old]]"), (1, "[[File:A.jpg|thumb|a]] [[File:A2.jpg]]")], stats)
    assert old.column("page_id").to_pylist() == [1, 1, 2] and stats.images == 3 and stats.captions == 2
    fresh = collect("xwiki", [(2, "[[File:B.jpg|thumb|new]]")], ExtractStats())
    merged = merge(old, fresh, {2, 5})
    assert merged.column("caption").to_pylist() == ["a", None, "new"]
    assert merge(old, collect("xwiki", [], ExtractStats()), {1}).column("page_id").to_pylist() == [2]


def test_parallel_extraction_gives_the_same_rows():
    pages = [(i, f"[[File:F{i}.jpg|thumb|alt=a{i}|Caption {i}]] <gallery>\nG{i}.png|g</gallery>") for i in range(1, 700)]
    pages.append((999, "no image here"))
    serial_stats, parallel_stats = ExtractStats(), ExtractStats()
    serial = collect("xwiki", pages, serial_stats)
    parallel = collect("xwiki", pages, parallel_stats, workers=2)
    assert parallel.equals(serial) and serial.num_rows == 2 * 699
    assert serial_stats.as_dict() == parallel_stats.as_dict()


def test_description_languages():
    from wikivis.sources.content import _description_by_language

    assert _description_by_language({"en": "<b>A</b> cat", "de": "Eine Katze", "fr": "", "_type": "lang"}) == {
        "en": "A cat", "de": "Eine Katze"}
    assert _description_by_language('<div class="description">untagged</div>') == {"und": "untagged"}
    assert _description_by_language(None) == {}
