from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest

from tests.unit.commons_fakes import Route, jpeg_bytes
from wikivis.datasets import schema
from wikivis.errors import InputError, NotFoundError
from wikivis.media import lists
from wikivis.media.fetch import ThumbnailFetcher
from wikivis.media.stage import commons_stage
from wikivis.media.store import MediaStore
from wikivis.sources.http import RetryPolicy

WIKI = "samplewiki"


def _article_images(lake, snapshot: str, links: list[tuple[int, str]]) -> None:
    rows = [{"wiki": WIKI, "page_id": pid, "page_namespace": 0, "page_title": f"P{pid}", "file_name": name,
             "is_lead": i == 0} for i, (pid, name) in enumerate(links)]
    lake.write("article_images", WIKI, snapshot, pa.Table.from_pylist(rows, schema=schema("article_images")))


def _files(lake, snapshot: str, files) -> None:
    rows = [{"wiki": "commonswiki", "file_name": f.name, "size": 1, "width": f.width, "height": f.height,
             "media_type": f.media_type, "mime": f.mime, "sha1": f.sha1, "timestamp": "20250101000000"} for f in files]
    lake.write("files", "commonswiki", snapshot, pa.Table.from_pylist(rows, schema=schema("files")))


def test_commons_stage_writes_metadata_and_media_then_reuses(settings, lake, fake_api, api_client, fake_upload, FakeFile):
    body = jpeg_bytes()
    tiny = FakeFile("Tiny.png", width=100, height=80, mime="image/png", sha1=hashlib.sha1(body).hexdigest())
    files = [FakeFile("Cat.jpg"), FakeFile("Dog.jpg"), tiny, FakeFile("Logo.jpg", licence="Fair use")]
    fake_api.add(*files)
    fake_upload.fallback = Route(body)  # an original is checked against its sha1
    _article_images(lake, "20250101", [(1, "Cat.jpg"), (1, "Dog.jpg"), (2, "Cat.jpg"), (2, "Tiny.png"),
                                       (3, "Logo.jpg"), (3, "Dangling.jpg")])
    _files(lake, "20250101", files)
    fetcher = ThumbnailFetcher(settings, MediaStore(settings.media_root), session=fake_upload.session(),
                               policy=RetryPolicy(max_attempts=2), sleep=lambda s: None)

    summary = commons_stage(settings, WIKI, "20250101", lake=lake, client=api_client, fetcher=fetcher)
    assert summary.fetched == 3
    assert summary.skipped_reasons == {"not_free": 1}
    assert summary.metadata_problems == {"missing": 1}
    meta = {r["file_name"]: r for r in lake.read("file_metadata", WIKI, "20250101").to_pylist()}
    assert set(meta) == {"Cat.jpg", "Dog.jpg", "Tiny.png", "Logo.jpg"}
    assert meta["Logo.jpg"]["non_free"] is True
    assert meta["Cat.jpg"]["artist"] == "Ann & Bob"
    assert meta["Tiny.png"]["thumb_url"].endswith("/Tiny.png")
    assert meta["Tiny.png"]["thumb_width"] == 100
    assert "/wikipedia/commons/thumb/" not in meta["Tiny.png"]["thumb_url"]  # the original: no upscaling
    media = lake.read("media", WIKI, "20250101")
    assert media.num_rows == 4
    assert sorted(media.column("status").to_pylist()) == ["ok", "ok", "ok", "skipped"]

    # next night: same files (same sha1) → metadata reused, nothing fetched
    api_calls, upload_calls = len(fake_api.calls), fake_upload.total
    _article_images(lake, "20250102", [(1, "Cat.jpg"), (1, "Dog.jpg"), (2, "Tiny.png"), (3, "Logo.jpg")])
    _files(lake, "20250102", files)
    again = commons_stage(settings, WIKI, "20250102", lake=lake, client=api_client, fetcher=fetcher)
    assert len(fake_api.calls) == api_calls
    assert fake_upload.total == upload_calls
    assert again.fetched == 0
    assert again.already_present == 3
    assert lake.read("file_metadata", WIKI, "20250102").num_rows == 4


def test_commons_stage_needs_an_ingested_snapshot(settings, lake):
    with pytest.raises(NotFoundError, match="article_images"):
        commons_stage(settings, WIKI, "20250101", lake=lake)


def test_list_builders(lake, api_client, fake_api, tmp_path):
    _article_images(lake, "20250101", [(1, "B.jpg"), (1, "A.jpg"), (2, "B.jpg")])
    assert lists.by_article(lake, WIKI, "20250101") == ["A.jpg", "B.jpg"]
    assert lists.by_article(lake, WIKI, "20250101", lead_only=True) == ["B.jpg"]
    fake_api.categories = {"Category:Cats": ["File:Cat one.jpg", "File:Cat two.jpg"]}
    assert lists.by_category(api_client, "Cats") == ["Cat_one.jpg", "Cat_two.jpg"]
    fake_api.search_index = {"haswbstatement:P180=Q146": ["File:Cat one.jpg"], "tabby": ["File:T.jpg"] * 2}
    assert lists.by_depicts(api_client, "Q146") == ["Cat_one.jpg"]
    assert lists.by_search(api_client, "tabby") == ["T.jpg"]
    titles = tmp_path / "titles.txt"
    titles.write_text("# cats\nFile:Cat one.jpg\n\nCat_two.jpg\nCat_one.jpg\n", encoding="utf-8")
    assert lists.from_file(titles) == ["Cat_one.jpg", "Cat_two.jpg"]
    assert lists.from_file(titles, limit=1) == ["Cat_one.jpg"]
    titles.write_text("A.jpg\nB.jpg|C.jpg\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        lists.from_file(titles)


def test_titles_without_metadata_are_listed_with_their_reason(settings, lake, fake_api, api_client, fake_upload,
                                                              FakeFile):
    """Every requested title that got no usable metadata is a ``metadata_failures`` row."""
    files = [FakeFile("Cat.jpg"), FakeFile("Logo.jpg", licence="Fair use", non_free=True)]
    fake_api.add(*files)
    fake_api.no_imageinfo.add("File:Deleted.jpg")
    fake_upload.fallback = Route(jpeg_bytes())
    _article_images(lake, "20250101", [(1, "Cat.jpg"), (1, "Logo.jpg"), (2, "Dangling.jpg"), (2, "Deleted.jpg"),
                                       (3, "Bad<title>.jpg")])
    fetcher = ThumbnailFetcher(settings, MediaStore(settings.media_root), session=fake_upload.session(),
                               policy=RetryPolicy(max_attempts=2), sleep=lambda s: None)
    summary = commons_stage(settings, WIKI, "20250101", lake=lake, client=api_client, fetcher=fetcher)
    failures = {r["file_name"]: r for r in lake.read("metadata_failures", WIKI, "20250101").to_pylist()}
    assert {k: v["reason"] for k, v in failures.items()} == {
        "Dangling.jpg": "missing",
        "Deleted.jpg": "no_imageinfo",
        "Bad<title>.jpg": "invalid",
        "Logo.jpg": "non_free",
    }
    assert failures["Bad<title>.jpg"]["detail"] == "bad title"  # the API's invalidreason
    assert "Fair use" in failures["Logo.jpg"]["detail"]
    assert all(r["detail"] for r in failures.values())
    assert sorted(summary.as_dict()["metadata_failures"], key=lambda r: r["file_name"]) == sorted(
        failures.values(), key=lambda r: r["file_name"])
    assert summary.metadata_problems == {"missing": 1, "no_imageinfo": 1, "invalid": 1}


def test_shards_write_and_merge_metadata_failures(settings, lake, fake_api, FakeFile, monkeypatch):
    """The Airflow path (metadata shards → merge_commons) writes the same dataset."""
    from wikivis.sources import commons as commons_source
    from wikivis.stages import commons
    from wikivis.stages.run import RunContext

    fake_api.add(FakeFile("Cat.jpg"))
    _article_images(lake, "20250101", [(1, "Cat.jpg"), (1, "Nope.jpg"), (2, "Gone.jpg")])
    session = fake_api.session()
    real = commons_source.ActionApiClient.from_settings.__func__  # type: ignore[attr-defined]

    def from_settings(cls, s, wiki=None, **kw):
        return real(cls, s.replace(commons_api_url="http://api.test/w/api.php"), wiki, session=session, **kw)

    monkeypatch.setattr(commons_source.ActionApiClient, "from_settings", classmethod(from_settings))
    ctx = RunContext.open(settings, "r1")
    for shard in range(2):
        commons.fetch_metadata_shard(ctx, WIKI, "20250101", shard, 2)
    assert set(commons.merge_commons(ctx, WIKI, "20250101")["rows"]) == {"file_metadata", "metadata_failures"}
    failures = ctx.lake.read("metadata_failures", WIKI, "20250101").to_pylist()
    assert sorted((r["file_name"], r["reason"]) for r in failures) == [("Gone.jpg", "missing"), ("Nope.jpg", "missing")]
