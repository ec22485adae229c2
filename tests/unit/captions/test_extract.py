"""The wikitext caption extractor on hostile input, localized syntax and real articles."""

from __future__ import annotations

import pytest

from wikivis.captions.aliases import FILE_NAMESPACE, aliases_for, wiki_language
from wikivis.captions.extract import extract, normalise_file_name, plain_text
from wikivis.gates.captions import has_markup


def one(text: str, wiki: str | None = None):
    rows = extract(text, wiki=wiki)
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize(
    "option",
    ["thumb", "thumbnail", "frame", "framed", "frameless", "border", "left", "right", "center", "centre", "none",
     "upright", "upright=1.2", "upright = 0.75", "200px", "200 px", "100x80px", "x120px", "link=", "link=Foo",
     "link=https://example.org", "class=skin-invert", "lang=fr", "page=3", "thumbtime=0:05", "baseline",
     "text-top", "sub", "super", "middle", "thumb=Other.png", "", "page 3", "upright 1.2", "<!-- c -->"],
)
def test_options_are_never_the_caption(option):
    row = one(f"[[File:A.jpg|thumb|{option}]]")
    assert row.caption is None
    row = one(f"[[File:A.jpg|{option}|Real caption]]")
    assert row.caption == "Real caption"
    row = one(f"[[File:A.jpg|Real caption|{option}]]")
    assert row.caption == "Real caption"  # an option after the caption does not replace it


def test_nested_templates_and_links_in_captions():
    row = one(
        "[[File:Heron.jpg|thumb|upright=1.2|alt=A heron|A ''grey'' [[heron]] by [[Lake Como|the lake]] "
        "{{nowrap|in {{lang|it|''Lombardia''}}}} {{convert|3|m}}<ref name=a>{{cite web|url=x|title=[[y]]}}</ref>"
        "<!-- note --> &amp; '''more'''<br/>text]]"
    )
    assert row.file_name == "Heron.jpg"
    assert row.alt == "A heron"
    assert row.caption == "A grey heron by the lake in Lombardia & more text"
    assert not has_markup(row.caption)


def test_pipes_inside_nested_constructs_do_not_split_parameters():
    row = one("[[File:X.png|thumb|{{lang|fr|un|deux}} and [[a|b]] then [[c]]]]")
    assert row.caption == "deux and b then c"


def test_alt_inside_the_caption_is_link_text_not_the_alt():
    row = one("[[File:D.jpg|thumb|See [[Foo|alt=bar]] here]]")
    assert row.alt is None
    assert row.caption == "See alt=bar here"
    row = one("[[File:D.jpg|thumb|{{lang|en|alt=bar}} caption]]")
    assert row.alt is None


def test_comments_and_pipe_templates():
    assert one("[[File:A.jpg|cap<!-- the caption -->|thumb<!-- frame -->|<!-- x -->]]").caption == "cap"
    row = one("[[File:A.jpg|thumb|<!-- hidden -->  alt=Alt|a {{!}} b]]")
    assert (row.alt, row.caption) == ("Alt", "a | b")  # {{!}} is a pipe that does not split
    nested = extract("[[File:A.jpg|thumb|See [[File:B.svg|20px]] here]]")
    assert [(r.file_name, r.caption) for r in nested] == [("A.jpg", "See here"), ("B.svg", None)]


def test_unknown_key_value_is_a_caption_and_the_last_caption_wins():
    assert one("[[File:E.jpg|thumb|E=mc2]]").caption == "E=mc2"
    assert one("[[File:E.jpg|first|thumb|second]]").caption == "second"


def test_unclosed_links_do_not_swallow_what_follows():
    rows = extract("[[File:Broken.jpg|thumb|unclosed [[Foo caption\n\n[[File:Ok.jpg|thumb|fine]] [[ and {{ and [[File:")
    assert [(r.file_name, r.caption) for r in rows] == [("Ok.jpg", "fine")]
    assert extract("[[File:A.jpg|thumb|caption with ]] stray") and extract("[[[[[[") == []
    assert extract("{{{{{{{{") == [] and extract("") == [] and extract("<gallery>") == []


def test_deep_nesting_and_garbage_do_not_raise():
    text = "[[File:A.jpg|thumb|" + "{{x|" * 200 + "y" + "}}" * 200 + "]]" + "<ref>" * 50 + "[[File:B.jpg]]"
    rows = extract(text)
    assert "A.jpg" in [r.file_name for r in rows] or "B.jpg" in [r.file_name for r in rows]
    extract("\x00\ufeff[[File:\u200f.jpg|\u202e]]")


def test_links_to_file_pages_and_media_are_not_images():
    assert extract("[[:File:A.jpg]] [[:Datei:B.jpg|text]] [[Media:C.ogg]] [[Category:X]] [[File]]") == []


def test_rtl_captions_and_namespaces():
    ar = one("[[ملف:شجرة_النخيل.jpg|تصغير|يسار|بديل=نخلة طويلة|نخلة في [[الرياض|العاصمة]]]]", wiki="arwiki")
    assert (ar.file_name, ar.alt, ar.caption) == ("شجرة_النخيل.jpg", "نخلة طويلة", "نخلة في العاصمة")
    he = one("[[קובץ:עץ.jpg|ממוזער|שמאל|טקסט=עץ ירוק|עץ בגן \u200fהלאומי]]", wiki="hewiki")
    assert (he.file_name, he.alt) == ("עץ.jpg", "עץ ירוק")
    assert he.caption == "עץ בגן \u200fהלאומי"


@pytest.mark.parametrize(
    ("wiki", "text", "expected"),
    [
        ("dewiki", "[[Datei:Haus.jpg|mini|hochkant=1.2|links|alternativtext=Ein Haus|Ein Haus am See]]", ("Ein Haus", "Ein Haus am See")),
        ("dewiki", "[[Bild:Haus.jpg|miniatur|rahmenlos|verweis=X|Unterschrift]]", (None, "Unterschrift")),
        ("frwiki", "[[Fichier:Maison.jpg|vignette|gauche|redresse=0.8|alt=Une maison|Une maison]]", ("Une maison", "Une maison")),
        ("frwiki", "[[Fichier:Maison.jpg|vignette|sans cadre|ligne de base|néant|Légende]]", (None, "Légende")),
        ("dewiki", "[[Datei:Haus.jpg|mini|seite 2|hochkant 1.5|tief|Unterschrift]]", (None, "Unterschrift")),
        ("eswiki", "[[Archivo:Casa.jpg|miniaturadeimagen|izquierda|Una casa]]", (None, "Una casa")),
        ("eswiki", "[[Imagen:Casa.jpg|miniatura|derecha|alt=Casa|Pie]]", ("Casa", "Pie")),
        ("itwiki", "[[Immagine:Casa.jpg|miniatura|sinistra|alt=Casa|Didascalia]]", ("Casa", "Didascalia")),
        ("nlwiki", "[[Bestand:Huis.jpg|miniatuur|links|alt=Huis|Onderschrift]]", ("Huis", "Onderschrift")),
        ("nlwiki", "[[Afbeelding:Huis.jpg|miniatuur|rechtop|Onderschrift]]", (None, "Onderschrift")),
        ("plwiki", "[[Plik:Dom.jpg|mały|lewo|alt=Dom|Podpis]]", ("Dom", "Podpis")),
        ("ruwiki", "[[Файл:Дом.jpg|мини|слева|альт=Дом|Подпись]]", ("Дом", "Подпись")),
        ("ruwiki", "[[Изображение:Дом.jpg|200пкс|центр|сверхусправа=1.2|страница 2|Подпись]]", (None, "Подпись")),
        ("jawiki", "[[ファイル:家.jpg|サムネイル|左|代替文=家|説明文]]", ("家", "説明文")),
        ("jawiki", "[[画像:家.jpg|200ピクセル|説明文]]", (None, "説明文")),
        ("zhwiki", "[[文件:房子.jpg|缩略图|左|替代=房子|说明]]", ("房子", "说明")),
        ("zhwiki", "[[File:房子.jpg|縮圖|200像素|說明]]", (None, "說明")),
        ("arwiki", "[[صورة:بيت.jpg|مصغر|200بك|وصف]]", (None, "وصف")),
        ("hewiki", "[[תמונה:בית.jpg|ממוזער|ימין|כיתוב]]", (None, "כיתוב")),
        ("dewiki", "[[File:Haus.jpg|thumb|alt=English works everywhere|Caption]]", ("English works everywhere", "Caption")),
    ],
)
def test_localized_namespaces_and_magic_words(wiki, text, expected):
    row = one(text, wiki=wiki)
    assert (row.alt, row.caption) == expected


def test_each_language_only_its_own_words_plus_english():
    assert wiki_language("dewiki") == "de" and wiki_language("commonswiki") is None
    de = aliases_for("dewiki")
    assert "datei" in de.file_namespaces and "file" in de.file_namespaces and "fichier" not in de.file_namespaces
    assert one("[[File:A.jpg|thumb|links]]", wiki="enwiki").caption == "links"  # German "left" is a caption on enwiki
    assert one("[[File:A.jpg|thumb|links]]", wiki="dewiki").caption is None
    assert set(FILE_NAMESPACE) >= {"en", "de", "fr", "es", "it", "nl", "pl", "ru", "ja", "zh", "ar", "he"}


def test_galleries():
    rows = extract(
        "<gallery mode=packed heights=120>\n"
        "File:G.jpg|Gallery ''caption'' with [[a|link]]|alt=galt\n"
        "  H_h.png|second|link=X\n"
        "Datei:I.jpg\n"
        "Category:Not a file.jpg|x\n"
        "<!-- comment -->\n"
        "J.jpg|alt=only alt\n"
        "</gallery>"
    )
    assert [(r.file_name, r.caption, r.alt, r.source) for r in rows] == [
        ("G.jpg", "Gallery caption with link", "galt", "gallery"),
        ("H_h.png", "second", None, "gallery"),
        ("I.jpg", None, None, "gallery"),
        ("J.jpg", None, "only alt", "gallery"),
    ]


def test_infobox_and_multiple_image_parameters_in_article_order():
    rows = extract(
        "{{Infobox building\n| name = X\n| image = Front view.JPG\n| image_caption = The ''front''\n| alt = A facade\n"
        "| logo = [[File:Logo.svg|100px]]\n| caption2 = unused\n}}\n"
        "Text [[File:Body.jpg|thumb|Body]]\n"
        "{{Multiple image|image1=One.jpg|caption1=First|alt1=1st|image2=File:Two.jpg|caption2=Second}}\n"
        "{{Infobox person|image=[[File:Face.jpg|220px|border]]|caption=A face|image_alt=Face alt}}\n"
        "{{Infobox thing|image=|caption=Empty image}} {{Infobox x|image=not a file}}"
        "{{Infobox y|image = Commented.png <!-- keep this photo -->\n|caption=With comment}}"
    )
    assert [(r.file_name, r.caption, r.alt, r.source) for r in rows] == [
        ("Front_view.JPG", "The front", "A facade", "infobox"),
        ("Logo.svg", None, None, "link"),
        ("Body.jpg", "Body", None, "link"),
        ("One.jpg", "First", "1st", "infobox"),
        ("Two.jpg", "Second", None, "infobox"),
        ("Face.jpg", "A face", "Face alt", "link"),
        ("Commented.png", "With comment", None, "infobox"),
    ]
    assert [r.position for r in rows] == list(range(7))


def test_file_names_are_normalised_like_the_lake():
    assert normalise_file_name("File:foo  bar_baz.jpg") == "Foo_bar_baz.jpg"
    assert normalise_file_name(" Datei:Foo%20bar.jpg ") == "Foo_bar.jpg"
    assert normalise_file_name("image:über &amp; co.png") == "Über_&_co.png"
    assert normalise_file_name("File:A.jpg#frag") == "A.jpg"
    assert normalise_file_name("File:") is None and normalise_file_name("File:a[b].jpg") is None
    assert one("[[file: lower case.jpg]]").file_name == "Lower_case.jpg"


def test_plain_text():
    assert plain_text("'''Bold''' and ''it'' <span style='x'>span</span> [https://x.org ext] [https://y.org] "
                      "{{unknown|x}}{{nbsp}}<math>x^2</math> <!-- c -->&eacute;") == "Bold and it span ext é"
    assert plain_text("[[Category:X]][[File:I.jpg|thumb|nested]] left") == "left"
    assert plain_text("unpaired ''' bold and [[ bracket") == "unpaired bold and bracket"


def test_real_articles_parse_with_sensible_counts(realworld_wikitext):
    expected_min = {  # images each snippet shows in its own wikitext (read by hand)
        "wtf__Keilwelle": 7, "wtf__United-Kingdom": 7, "wtf__Bazooka": 4, "wtf__Mozilla-Firefox": 6,
        "wtf__Goryeo-ware": 6, "wtf-test__Muecken_gallery": 8, "wtf-test__Kurmi_Gallery_template": 4,
        "wtf-test__Anders_Zorn_gallery": 5, "wtf__africaans": 1, "ios__Earth_ar": 3, "ios__Cat_en": 6,
        "wtf__toronto_star": 4, "wtf__Bodmin": 4,
    }
    total = captions = alts = 0
    files = sorted(realworld_wikitext.glob("*.wikitext"))
    assert len(files) >= 20
    for path in files:
        lang = path.stem.rsplit("_", 1)[-1]
        rows = extract(path.read_text("utf-8"), wiki=f"{lang}wiki" if lang in ("ar", "zh", "en") else None)
        assert len(rows) >= expected_min.get(path.stem, 0), (path.stem, rows)
        for row in rows:
            assert row.file_name and "|" not in row.file_name and not row.file_name.startswith(("File:", "Datei:"))
            assert not has_markup(row.caption), (path.stem, row)
            assert not has_markup(row.alt), (path.stem, row)
        total += len(rows)
        captions += sum(r.caption is not None for r in rows)
        alts += sum(r.alt is not None for r in rows)
    assert total >= 80 and captions >= 60 and 5 <= alts < captions
    uk = {r.file_name: r for r in extract((realworld_wikitext / "wtf__United-Kingdom.wikitext").read_text("utf-8"), wiki="enwiki")}
    assert uk["Battle_of_Waterloo_1815.PNG"].alt.startswith("Painting of a bloody battle")
    assert "<ref" not in (uk["Royal_Irish_Rifles_ration_party_Somme_July_1916.jpg"].caption or "")
    earth = extract((realworld_wikitext / "ios__Earth_ar.wikitext").read_text("utf-8"), wiki="arwiki")
    assert any(r.caption and "أبولو 17" in r.caption for r in earth)
