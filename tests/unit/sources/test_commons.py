from __future__ import annotations

import pytest
import requests

from wikivis.errors import PolicyError, RetriesExceeded, SourceError
from wikivis.sources.commons import (
    ActionApiClient,
    depicts_query,
    file_name,
    file_title,
    strip_html,
)


def test_titles_round_trip():
    assert file_title("Foo_bar.jpg") == "File:Foo bar.jpg"
    assert file_title("File:Foo bar.jpg") == "File:Foo bar.jpg"
    assert file_name("File:Foo bar.jpg") == "Foo_bar.jpg"
    assert file_name("Ratio: 1_2.jpg") == "Ratio:_1_2.jpg"  # colons belong to file names
    assert file_name("Datei:Foo.jpg", namespaced=True) == "Foo.jpg"


def test_strip_html():
    assert strip_html('<a href="x">Ann &amp; Bob</a>') == "Ann & Bob"
    assert strip_html("<p>A <b>cat</b>\n on a <br>mat</p>") == "A cat on a mat"
    assert strip_html("Tom &amp; Jerry") == "Tom & Jerry"
    assert strip_html(None) == ""


def test_imageinfo_batches_of_50_with_policy_params(fake_api, api_client, FakeFile):
    fake_api.add(*[FakeFile(f"Img_{i:03d}.jpg") for i in range(120)])
    infos = list(api_client.imageinfo([f"Img_{i:03d}.jpg" for i in range(120)], thumb_width=330))
    assert len(infos) == 120
    assert all(i.problem is None for i in infos)
    assert len(fake_api.calls) == 3  # 50 + 50 + 20 titles, no transform cap hit
    call = fake_api.calls[0]
    assert call["maxlag"] == "5"
    assert call["formatversion"] == "2"
    assert call["iiurlwidth"] == "330"
    assert call["iiprop"] == "url|sha1|size|mime|mediatype|extmetadata"
    assert "LicenseShortName" in call["iiextmetadatafilter"]
    assert "NonFree" in call["iiextmetadatafilter"]
    assert set(fake_api.user_agents) == {api_client.session.headers["User-Agent"]}
    first = infos[0]
    assert first.requested == "Img_000.jpg"
    assert first.name == "Img_000.jpg"
    assert first.thumb_url.endswith("/330px-Img_000.jpg")
    assert first.thumb_width == 330
    assert first.extmetadata["Artist"] == "Ann & Bob"
    assert first.extmetadata["ImageDescription"] == "A cat on a mat"


def test_transform_cap_continues_with_iicontinue(fake_api, api_client, FakeFile):
    fake_api.transform_limit = 7
    fake_api.add(*[FakeFile(f"Img_{i:03d}.jpg") for i in range(50)])
    infos = list(api_client.imageinfo([f"Img_{i:03d}.jpg" for i in range(50)], thumb_width=500))
    assert len(fake_api.calls) == 8  # ceil(50 / 7)
    assert all("iicontinue" in c for c in fake_api.calls[1:])
    assert all(i.thumb_url and "/500px-" in i.thumb_url for i in infos)
    assert [i.requested for i in infos] == [f"Img_{i:03d}.jpg" for i in range(50)]


def test_missing_invalid_and_normalised_titles_are_values(fake_api, api_client, FakeFile):
    fake_api.add(FakeFile("Foo_bar.jpg"))
    infos = {i.requested: i for i in api_client.imageinfo(["foo_bar.jpg", "Nope.jpg", "Bad<title>.jpg"])}
    assert infos["foo_bar.jpg"].problem is None
    assert infos["foo_bar.jpg"].name == "Foo_bar.jpg"
    assert infos["Nope.jpg"].problem == "missing"
    assert infos["Bad<title>.jpg"].problem == "invalid"


def test_narrow_file_gets_its_original_as_thumburl(fake_api, api_client, FakeFile):
    fake_api.add(FakeFile("Small.png", width=200, height=100, mime="image/png"))
    (info,) = api_client.imageinfo(["Small.png"], thumb_width=330)
    assert info.thumb_url == info.url
    assert info.thumb_width == 200


def test_non_standard_width_is_refused_before_any_request(fake_api, api_client):
    with pytest.raises(PolicyError, match="standard"):
        list(api_client.imageinfo(["A.jpg"], thumb_width=300))
    assert fake_api.calls == []


def test_api_error_object_raises_source_error_naming_url_and_code(fake_api, api_client):
    fake_api.script.append((200, {"error": {"code": "badvalue", "info": "Unrecognized value for parameter"}}, {}))
    with pytest.raises(SourceError) as err:
        list(api_client.imageinfo(["A.jpg"]))
    assert "badvalue" in str(err.value)
    assert "http://api.test/w/api.php" in str(err.value)


def test_maxlag_is_retried_after_retry_after(fake_api, api_client, FakeFile):
    fake_api.add(FakeFile("A.jpg"))
    lag = {"error": {"code": "maxlag", "info": "Waiting for db: 7 seconds lagged", "lag": 7}}
    fake_api.script.append((200, lag, {"Retry-After": "5", "X-Database-Lag": "7"}))
    (info,) = api_client.imageinfo(["A.jpg"])
    assert info.problem is None
    assert api_client.sleeps == [5.0]
    assert api_client.counters.throttled == 1


def test_429_honours_retry_after_then_gives_up(fake_api, api_client):
    for _ in range(3):
        fake_api.script.append((429, {"error": "slow down"}, {"Retry-After": "3"}))
    with pytest.raises(RetriesExceeded) as err:
        list(api_client.imageinfo(["A.jpg"]))
    assert err.value.status == 429
    assert "api.test" in str(err.value)
    assert api_client.sleeps == [3.0, 3.0]


def test_generic_user_agent_is_refused():
    session = requests.Session()  # python-requests/x: Wikimedia answers 403
    with pytest.raises(PolicyError, match="User-Agent"):
        ActionApiClient("http://api.test/w/api.php", session=session)


def test_category_members_recursion_with_cycle_guard(fake_api, api_client):
    fake_api.categories = {
        "Category:Cats": ["File:C1.jpg", "Category:Kittens", "File:C2.jpg", "File:C3.jpg", "Category:Lions", "Page"],
        "Category:Kittens": ["File:K1.jpg", "Category:Cats", "File:C1.jpg"],  # cycle + duplicate
        "Category:Lions": ["File:L1.jpg", "Category:Deep"],
        "Category:Deep": ["File:D1.jpg"],
    }
    assert list(api_client.category_members("Cats")) == ["File:C1.jpg", "File:C2.jpg", "File:C3.jpg"]
    assert fake_api.calls[-1]["cmtype"] == "file"
    depth1 = list(api_client.category_members("Category:Cats", depth=1))
    assert depth1 == ["File:C1.jpg", "File:C2.jpg", "File:C3.jpg", "File:K1.jpg", "File:L1.jpg"]
    fake_api.calls.clear()
    depth5 = list(api_client.category_members("Cats", depth=5))
    assert depth5[-1] == "File:D1.jpg"
    assert len(depth5) == len(set(depth5)) == 6
    first_pages = [c["cmtitle"] for c in fake_api.calls if "cmcontinue" not in c]
    assert sorted(first_pages) == ["Category:Cats", "Category:Deep", "Category:Kittens", "Category:Lions"]


def test_search_paginates_and_depicts(fake_api, api_client):
    fake_api.search_index = {"haswbstatement:P180=Q146": [f"File:Cat_{i}.jpg" for i in range(8)]}
    titles = list(api_client.search_files(depicts_query("q146")))
    assert titles == [f"File:Cat_{i}.jpg" for i in range(8)]
    assert [c.get("sroffset") for c in fake_api.calls] == [None, "3", "6"]
    assert list(api_client.search_files("haswbstatement:P180=Q146", limit=4)) == titles[:4]
    with pytest.raises(PolicyError):
        depicts_query("cat")


def test_continuation_loop_is_detected(fake_api, api_client):
    body = {"query": {"search": []}, "continue": {"sroffset": "3", "continue": "-||"}}
    fake_api.script.extend([(200, body, {}), (200, body, {})])
    with pytest.raises(SourceError, match="loops"):
        list(api_client.search_files("x"))


def test_page_images_merges_continuation(fake_api, api_client):
    fake_api.pages = {
        1: {"title": "Cat", "images": ["File:A.jpg", "File:B.jpg"], "props": {"page_image_free": "A.jpg"}},
        2: {"title": "Dog", "images": ["File:C.jpg", "File:D.jpg", "File:E.jpg"], "props": {}},
    }
    result = {p.requested: p for p in api_client.page_images(page_ids=[1, 2, 3])}
    assert result[1].files == ("A.jpg", "B.jpg")
    assert result[1].lead_image_free == "A.jpg"
    assert result[2].files == ("C.jpg", "D.jpg", "E.jpg")
    assert result[3].problem == "missing"
    assert len(fake_api.calls) == 2


def test_single_title_iistart_is_not_followed(fake_api, api_client):
    """MediaWiki answers one title of a file with history with ``continue.iistart``: following it
    would fetch (and render a thumbnail of) every old version, one request each."""
    current = {"timestamp": "2025-02-01T00:00:00Z", "size": 10, "width": 1000, "height": 800, "sha1": "a" * 40,
               "url": "http://upload.test/x/Cat.jpg", "thumburl": "http://upload.test/thumb/330px-Cat.jpg",
               "thumbwidth": 330, "thumbheight": 264}
    older = {**current, "timestamp": "2024-01-01T00:00:00Z", "sha1": "b" * 40}
    page = {"pageid": 5, "ns": 6, "title": "File:Cat.jpg", "imagerepository": "local"}
    json_ct = {"Content-Type": "application/json"}
    fake_api.script = [
        (200, {"continue": {"iistart": "2024-01-01T00:00:00Z", "continue": "||"},
               "query": {"pages": [{**page, "imageinfo": [current]}]}}, json_ct),
        (200, {"batchcomplete": True, "query": {"pages": [{**page, "imageinfo": [older]}]}}, json_ct),
    ]
    (info,) = api_client.imageinfo(["Cat.jpg"], thumb_width=330)
    assert len(fake_api.calls) == 1
    assert info.sha1 == "a" * 40
    assert info.thumb_width == 330
