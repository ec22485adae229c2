"""The real Action API answers in ``../shared/realworld-data/commons`` (read at test time,
never copied here): each is parsed exactly by the client, or refused cleanly.

Every answer is fed through :class:`~wikivis.sources.commons.ActionApiClient` by the in-process
fake API (its ``script``): imageinfo answers through ``imageinfo``, category members through
``category_members``, the generator answers (``generator=images`` of an article, which the
client does not send) through ``query`` — the continuation protocol itself.
"""

from __future__ import annotations

import pytest

from tests.realworld_commons import api_answer_files, load_answer
from wikivis.errors import SourceError

ANSWERS = api_answer_files()
JSON = {"Content-Type": "application/json; charset=utf-8"}


def test_every_answer_file_is_covered():
    if not ANSWERS:
        pytest.skip("real Action API answers not found (../shared/realworld-data/commons is absent)")
    assert set(ANSWERS) == set(COVERED), "a new real answer needs a test here"


def test_wptools_imageinfo_with_iistart_is_read_exactly_and_history_not_walked(fake_api, api_client):
    body, params = load_answer("wptools__imageinfo.py")
    assert "iistart" in body["continue"]  # MediaWiki's single-title old-version continuation
    title = params["titles"]
    older = {"query": {"pages": [{"ns": 6, "title": title, "missing": True, "known": True,
                                  "imagerepository": "shared", "imageinfo": [{"timestamp": body["continue"]["iistart"],
                                                                              "size": 1, "width": 1, "height": 1}]}]}}
    fake_api.script = [(200, body, JSON), (200, older, JSON)]
    (info,) = api_client.imageinfo([title], thumb_width=None)
    assert len(fake_api.calls) == 1  # the old revision is never requested
    assert "iistart" not in fake_api.calls[0]
    assert info.problem is None
    assert info.title == "File:Douglas adams portrait cropped.jpg"
    assert info.name == "Douglas_adams_portrait_cropped.jpg"
    assert (info.size, info.width, info.height) == (32915, 333, 386)
    assert info.url == "https://upload.wikimedia.org/wikipedia/commons/c/c0/Douglas_adams_portrait_cropped.jpg"
    assert info.description_url == "https://commons.wikimedia.org/wiki/File:Douglas_adams_portrait_cropped.jpg"
    assert info.sha1 == ""  # the query did not ask for iiprop=sha1
    ext = info.extmetadata
    assert ext["LicenseShortName"] == "CC BY-SA 2.0"
    assert ext["License"] == "cc-by-sa-2.0"
    assert ext["AttributionRequired"] == "true"
    assert ext["CommonsMetadataExtension"] == "1.2"  # a JSON number, kept as text
    assert ext["Artist"] == "Douglas_adams_portrait.jpg: michael hughes from berlin, germany derivative work: Beao"
    assert ext["ImageDescription"] == 'douglas adams inspired "Hitch hikers guide to the galaxy" H2G2 www.hughes-photography.eu'


def test_android_image_license_normalised_shared_file(fake_api, api_client):
    body, _ = load_answer("android__image_license.json")
    asked = body["query"]["normalized"][0]["from"]
    fake_api.script = [(200, body, JSON)]
    (info,) = api_client.imageinfo([asked], thumb_width=None)
    assert len(fake_api.calls) == 1
    assert info.requested == asked
    assert info.title == "File:Mark Selby at Snooker German Masters (DerHexer) 2015-02-04 02.jpg"
    assert info.problem is None  # "missing" + "known" + imageinfo: a shared (Commons) file
    page = body["query"]["pages"][0]
    expected = page["imageinfo"][0]["extmetadata"]
    assert set(info.extmetadata) == set(expected)
    assert info.extmetadata["LicenseShortName"] == expected["LicenseShortName"]["value"]


@pytest.mark.parametrize("name", ["android__gallery_collection_no_thumbs.json", "android__gallery_collection_with_thumbs.json"])
def test_android_gallery_answers_are_read_exactly(fake_api, api_client, name):
    body, _ = load_answer(name)
    pages = body["query"]["pages"]
    titles = [p["title"] for p in pages]
    fake_api.script = [(200, body, JSON)]
    infos = list(api_client.imageinfo(titles, thumb_width=None))
    assert [i.title for i in infos] == titles
    for info, page in zip(infos, pages, strict=True):
        ii = page["imageinfo"][0]
        assert info.problem is None
        assert (info.size, info.width, info.height, info.mime) == (ii["size"], ii["width"], ii["height"], ii["mime"])
        assert info.url == ii.get("url")
        assert info.thumb_url == ii.get("thumburl")


def test_android_generator_continuation_round_trip(fake_api, api_client):
    first, _ = load_answer("android__gallery_collection_with_continuation_1.json")
    second, _ = load_answer("android__gallery_collection_with_continuation_2.json")
    fake_api.script = [(200, first, JSON), (200, second, JSON)]
    bodies = list(api_client.query({"generator": "images", "titles": "Foo", "prop": "imageinfo"}))
    assert bodies == [first, second]
    assert fake_api.calls[1]["gimcontinue"] == "12345678|Bar"
    assert fake_api.calls[1]["continue"] == "gimcontinue||"


def test_wptools_category_members(fake_api, api_client):
    body, params = load_answer("wptools__category.py")
    fake_api.script = [(200, body, JSON)]
    titles = list(api_client.category_members(params["cmtitle"], member_type="page"))
    assert titles == [m["title"] for m in body["query"]["categorymembers"]]
    assert len(fake_api.calls) == 1


def test_wptools_cmcontinue_is_sent_back_verbatim_and_a_loop_refused(fake_api, api_client):
    body, params = load_answer("wptools__category_cmcontinue.py")
    fake_api.script = [(200, body, JSON), (200, body, JSON)]  # the same continuation twice: a loop
    with pytest.raises(SourceError, match="loops"):
        list(api_client.category_members(params["cmtitle"], member_type="page"))
    assert fake_api.calls[1]["cmcontinue"] == body["continue"]["cmcontinue"]
    assert fake_api.calls[1]["continue"] == "-||"


COVERED = {
    "wptools__imageinfo.py",
    "android__image_license.json",
    "android__gallery_collection_no_thumbs.json",
    "android__gallery_collection_with_thumbs.json",
    "android__gallery_collection_with_continuation_1.json",
    "android__gallery_collection_with_continuation_2.json",
    "wptools__category.py",
    "wptools__category_cmcontinue.py",
}
