"""Action API: imageinfo, thumb URLs, the 50-title and 50-transform caps, continuation,
categorymembers, search, maxlag, 429/Retry-After and the User-Agent policy."""

from __future__ import annotations

import hashlib
import time

import pytest
import requests

from wikivis.config import STANDARD_THUMB_WIDTHS
from wikivis.datasets import base36_to_hex

pytestmark = pytest.mark.integration
BASE = {"action": "query", "format": "json", "formatversion": "2"}


def query_all(http: requests.Session, url: str, params: dict) -> list[dict]:
    """Follow ``continue`` verbatim until it is gone; return every answer."""
    answers, cont = [], {}
    for _ in range(200):
        data = http.get(url, params={**BASE, **params, **cont}).json()
        assert "error" not in data, data
        answers.append(data)
        if "continue" not in data:
            return answers
        cont = data["continue"]
    raise AssertionError("continuation did not end")


def test_imageinfo_fields(mirror, sample_wiki, http) -> None:
    state = sample_wiki.state(sample_wiki.n_days)
    row = next(r for r in state.tables["image"] if r["img_minor_mime"] == "jpeg" and r["img_width"] > 500)
    title = "File:" + row["img_name"].replace("_", " ")
    data = http.get(mirror.urls["api"] + "/w/api.php", params={
        **BASE, "prop": "imageinfo", "titles": "File:" + row["img_name"],
        "iiprop": "url|sha1|size|mime|mediatype|extmetadata", "iiurlwidth": "300",
    }).json()
    (page,) = data["query"]["pages"]
    assert page["title"] == title
    assert data["query"]["normalized"] == [{"fromencoded": False, "from": "File:" + row["img_name"], "to": title}]
    info = page["imageinfo"][0]
    assert info["sha1"] == base36_to_hex(row["img_sha1"])
    assert (info["size"], info["width"], info["height"]) == (row["img_size"], row["img_width"], row["img_height"])
    assert info["mime"] == "image/jpeg"
    assert info["mediatype"] == "BITMAP"
    assert info["thumbwidth"] == 330  # snapped up to a standard width
    assert info["thumbwidth"] in STANDARD_THUMB_WIDTHS
    assert info["thumburl"].endswith(f"/330px-{row['img_name']}")
    meta = info["extmetadata"]
    assert meta["LicenseShortName"]["value"] == sample_wiki.file_info[row["img_name"]]["licence_short_name"]
    original = http.get(info["url"]).content
    assert hashlib.sha1(original).hexdigest() == info["sha1"]
    assert http.get(info["thumburl"]).status_code == 200


def test_commons_file_seen_from_the_article_wiki(mirror, sample_wiki, http) -> None:
    name = sample_wiki.state(sample_wiki.n_days).tables["image"][0]["img_name"]
    data = http.get(f"{mirror.urls['api']}/{sample_wiki.wiki}/w/api.php",
                    params={**BASE, "prop": "imageinfo", "titles": f"File:{name}", "iiprop": "sha1"}).json()
    (page,) = data["query"]["pages"]
    assert page["missing"] is True
    assert page["known"] is True
    assert page["imagerepository"] == "shared"
    assert "sha1" in page["imageinfo"][0]


def test_more_than_50_titles_is_an_error(mirror, http) -> None:
    titles = "|".join(f"File:X{i}.jpg" for i in range(51))
    data = http.get(mirror.urls["api"] + "/w/api.php", params={**BASE, "prop": "imageinfo", "titles": titles}).json()
    assert data["error"]["code"] == "toomanyvalues"
    assert data["error"]["limit"] == 50


def test_transform_cap_forces_continuation(mirror, sample_wiki, http) -> None:
    params = {"generator": "categorymembers", "gcmtitle": "Category:Birds", "gcmtype": "file", "gcmlimit": "max",
              "prop": "imageinfo", "iiprop": "url|sha1", "iiurlwidth": "250"}
    answers = query_all(http, mirror.urls["api"] + "/w/api.php", params)
    first = answers[0]
    assert sum("imageinfo" in p for p in first["query"]["pages"]) == 50
    assert set(first["continue"]) == {"iicontinue", "continue"}
    assert first["continue"]["continue"] == "gcmcontinue||"
    seen = [p["title"] for a in answers for p in a["query"]["pages"] if "imageinfo" in p]
    assert len(seen) == len(set(seen))
    commons = sample_wiki.state(sample_wiki.n_days).tables_for("commonswiki")
    lt = {r["lt_id"]: r["lt_title"] for r in commons["linktarget"]}
    birds = {r["cl_from"] for r in commons["categorylinks"] if lt[r["cl_target_id"]] == "Birds"}
    assert len(seen) == len(birds) > 50


def test_transform_cap_with_titles_uses_plain_continue(mirror_factory, sample_wiki, http) -> None:
    running = mirror_factory()
    running.api.transform_limit = 3
    names = [r["img_name"] for r in sample_wiki.state(sample_wiki.n_days).tables["image"][:8]]
    params = {"prop": "imageinfo", "iiprop": "url", "iiurlwidth": "120", "titles": "|".join(f"File:{n}" for n in names)}
    answers = query_all(http, running.urls["api"] + "/w/api.php", params)
    assert answers[0]["continue"]["continue"] == "||"
    assert "iicontinue" in answers[0]["continue"]
    assert "batchcomplete" not in answers[0]  # formatversion=2 omits it while incomplete (never false)
    assert len(answers) == 3
    got = sorted(p["title"] for a in answers for p in a["query"]["pages"] if "imageinfo" in p)
    assert got == sorted("File:" + n.replace("_", " ") for n in names)


def test_images_pageprops_and_list_continuation(mirror, sample_wiki, http) -> None:
    state = sample_wiki.state(sample_wiki.n_days)
    lt = {r["lt_id"]: r["lt_title"] for r in state.tables["linktarget"]}
    counts: dict[int, int] = {}
    for r in state.tables["imagelinks"]:
        counts[r["il_from"]] = counts.get(r["il_from"], 0) + 1
    page_id = max(counts, key=counts.get)
    api = f"{mirror.urls['api']}/{sample_wiki.wiki}/w/api.php"
    answers = query_all(http, api, {"prop": "images|pageprops", "pageids": str(page_id), "imlimit": "2"})
    assert answers[0]["continue"]["continue"] == "||pageprops"
    images = [i["title"] for a in answers for p in a["query"]["pages"] for i in p.get("images", [])]
    expected = sorted("File:" + lt[r["il_target_id"]].replace("_", " ") for r in state.tables["imagelinks"] if r["il_from"] == page_id)
    assert sorted(images) == expected
    props = {r["pp_propname"]: r["pp_value"] for r in state.tables["page_props"] if r["pp_page"] == page_id}
    assert answers[0]["query"]["pages"][0].get("pageprops", {}) == props
    members = query_all(http, api, {"list": "categorymembers", "cmtitle": "Category:Ships", "cmlimit": "7"})
    assert members[0]["continue"]["continue"] == "-||"
    ids = [m["pageid"] for a in members for m in a["query"]["categorymembers"]]
    ships = {r["cl_from"] for r in state.tables["categorylinks"] if lt[r["cl_target_id"]] == "Ships"}
    assert sorted(ids) == sorted(ships)


def test_search_haswbstatement_and_text(mirror, sample_wiki, http) -> None:
    expected = {n for n, i in sample_wiki.file_info.items() if "Q506" in i["depicts"]}
    state = sample_wiki.state(sample_wiki.n_days)
    live = {r["img_name"] for r in state.tables["image"]}
    answers = query_all(http, mirror.urls["api"] + "/w/api.php",
                        {"list": "search", "srsearch": "haswbstatement:P180=Q506", "srnamespace": "6", "srlimit": "50"})
    found = {h["title"].removeprefix("File:").replace(" ", "_") for a in answers for h in a["query"]["search"]}
    assert found == expected & live
    assert answers[0]["query"]["searchinfo"]["totalhits"] == len(found)
    text = http.get(mirror.urls["api"] + "/w/api.php",
                    params={**BASE, "list": "search", "srsearch": "heron", "srnamespace": "6"}).json()
    assert text["query"]["search"]
    assert all("heron" in h["title"].lower() or "heron" in h["snippet"].lower() for h in text["query"]["search"])


def test_maxlag(mirror_factory, http) -> None:
    running = mirror_factory()
    running.api.lag_s = 7
    response = http.get(running.urls["api"] + "/w/api.php", params={**BASE, "prop": "info", "titles": "Foo", "maxlag": "5"})
    assert response.status_code == 200
    assert response.json()["error"]["code"] == "maxlag"
    assert response.headers["Retry-After"] == "5"
    assert response.headers["X-Database-Lag"] == "7"
    # immediately asking again ignores the Retry-After
    http.get(running.urls["api"] + "/w/api.php", params={**BASE, "titles": "Foo", "maxlag": "5"})
    assert running.stats["api"]["ignored_retry_after"] == 1
    running.api.lag_s = 0
    assert "error" not in http.get(running.urls["api"] + "/w/api.php", params={**BASE, "titles": "Foo", "maxlag": "5"}).json()


def test_throttle_429_and_retry_after_accounting(mirror_factory, http) -> None:
    running = mirror_factory(faults="throttle")
    url = running.urls["api"] + "/w/api.php"
    statuses = []
    for _ in range(8):
        response = http.get(url, params={**BASE, "titles": "Foo"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "1"
            time.sleep(float(response.headers["Retry-After"]))  # a polite client waits
    assert statuses.count(429) == 2
    stats = running.stats["api"]
    assert stats["throttled_429"] == 2
    assert stats["ignored_retry_after"] == 0


def test_user_agent_policy(mirror, http) -> None:
    url = mirror.urls["api"] + "/w/api.php"
    assert requests.get(url, params=BASE).status_code == 403  # python-requests default
    assert requests.get(url, params=BASE, headers={"User-Agent": ""}).status_code == 403
    assert http.get(url, params={**BASE, "titles": "Foo"}).status_code == 200


def _overwritten(sample_wiki) -> tuple[str, list[str]]:
    """A file the sample overwrote (it has an older version on the mirror's day)."""
    for row in sample_wiki.state(sample_wiki.n_days).tables["image"]:
        if len(sample_wiki.file_versions(row["img_name"])) > 1:
            return row["img_name"], [r["img_name"] for r in sample_wiki.state(sample_wiki.n_days).tables["image"]]
    pytest.skip("the sample has no overwritten file")


def test_single_title_with_history_continues_with_iistart(mirror, sample_wiki, http) -> None:
    """As MediaWiki (wptools' real answer): one title + older versions → ``continue.iistart``."""
    name, _ = _overwritten(sample_wiki)
    params = {"prop": "imageinfo", "titles": f"File:{name}", "iiprop": "timestamp|url|sha1|size", "iiurlwidth": "330"}
    answers = query_all(http, mirror.urls["api"] + "/w/api.php", params)
    first = answers[0]
    assert set(first["continue"]) == {"iistart", "continue"}
    assert first["continue"]["continue"] == "||"
    assert "batchcomplete" not in first
    versions = [p["imageinfo"][0] for a in answers for p in a["query"]["pages"] if "imageinfo" in p]
    assert len(versions) == len(answers) == len(sample_wiki.file_versions(name))
    stamps = [v["timestamp"] for v in versions]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    assert first["continue"]["iistart"] == stamps[1]
    assert "thumburl" in versions[0]
    assert "/archive/" in versions[1]["url"]
    assert versions[0]["sha1"] != versions[1]["sha1"]
    assert answers[-1]["batchcomplete"] is True


def test_several_titles_never_continue_into_history(mirror, sample_wiki, http) -> None:
    name, names = _overwritten(sample_wiki)
    other = next(n for n in names if n != name)
    params = {"prop": "imageinfo", "titles": f"File:{name}|File:{other}", "iiprop": "timestamp|sha1"}
    (answer,) = query_all(http, mirror.urls["api"] + "/w/api.php", params)
    assert all(len(p["imageinfo"]) == 1 for p in answer["query"]["pages"])


def test_client_asks_once_for_a_file_with_history(mirror, sample_wiki) -> None:
    from wikivis.sources.commons import ActionApiClient

    name, _ = _overwritten(sample_wiki)
    settings = mirror.settings()
    client = ActionApiClient.from_settings(settings, limiter=None)
    before = mirror.stats["api"]["requests"]
    (info,) = client.imageinfo([name], thumb_width=330)
    assert mirror.stats["api"]["requests"] - before == 1
    assert info.sha1 == sample_wiki.file_sha1(name)


def test_extmetadata_has_the_shape_commons_sends(mirror, sample_wiki, http) -> None:
    """Sources, ``hidden`` flags and value types as in the real answers of
    ``../shared/realworld-data/commons`` (wptools, Wikipedia Android), and the filter honoured."""
    from tests.realworld_commons import load_answer

    real, _ = load_answer("wptools__imageinfo.py")
    expected = real["query"]["pages"][0]["imageinfo"][0]["extmetadata"]
    name = sample_wiki.state(sample_wiki.n_days).tables["image"][0]["img_name"]
    url = mirror.urls["api"] + "/w/api.php"
    data = http.get(url, params={**BASE, "prop": "imageinfo", "titles": f"File:{name}", "iiprop": "extmetadata"}).json()
    meta = data["query"]["pages"][0]["imageinfo"][0]["extmetadata"]
    assert set(expected) <= set(meta)
    for key, value in expected.items():
        assert meta[key]["source"] == value["source"], key
        assert ("hidden" in meta[key]) == ("hidden" in value), key
        assert type(meta[key]["value"]) is type(value["value"]), key
    filtered = http.get(url, params={**BASE, "prop": "imageinfo", "titles": f"File:{name}", "iiprop": "extmetadata",
                                     "iiextmetadatafilter": "License|Artist"}).json()
    assert set(filtered["query"]["pages"][0]["imageinfo"][0]["extmetadata"]) == {"License", "Artist"}


def test_invalid_titles_are_pages_with_a_reason(mirror, http) -> None:
    data = http.get(mirror.urls["api"] + "/w/api.php",
                    params={**BASE, "prop": "imageinfo", "titles": "File:Bad<title>.jpg|File:"}).json()
    pages = {p["title"]: p for p in data["query"]["pages"]}
    assert pages["File:Bad<title>.jpg"]["invalid"] is True
    assert '"<"' in pages["File:Bad<title>.jpg"]["invalidreason"]
    assert pages["File:"]["invalid"] is True
