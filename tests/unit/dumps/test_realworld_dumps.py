"""Real SQL dumps and dumpstatus.json files from public repositories (issue 15).

Read at test time from ``../shared/realworld-data/{sql,dumpstatus}`` beside the checkout
(provenance and licences in its README), never copied into the repository; skipped, with
the reason, when absent.  Every file is either parsed exactly (fast and exact paths agree,
values checked) or refused with an :class:`InputError` naming the file, line and byte.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
import requests

from wikivis.dumps.ingest import WIKI_TABLES, _choose_columns, build_article_categories
from wikivis.dumps.parser import DumpParser
from wikivis.errors import InputError
from wikivis.sources.dumps import DumpsClient, parse_dumpstatus
from wikivis.sources.http import RetryPolicy

ROOT = Path(__file__).resolve().parents[3]
#: the shared folder beside the checkout (``<repo>/../shared``); git worktrees sit one level deeper
CANDIDATES = (ROOT.parent / "shared", ROOT.parent.parent / "shared")


def _shared(kind: str) -> Path:
    for base in CANDIDATES:
        found = base / "realworld-data" / kind
        if found.is_dir():
            return found
    pytest.skip(f"real-world {kind} not found (looked in {', '.join(str(c) for c in CANDIDATES)})")


@pytest.fixture(scope="module")
def sql_dir() -> Path:
    return _shared("sql")


@pytest.fixture(scope="module")
def dumpstatus_dir() -> Path:
    return _shared("dumpstatus")


def _parse(path: Path, fast: bool, **options) -> pa.Table:
    parser = DumpParser(path, fast=fast, chunk_size=1024, **options)
    return pa.Table.from_batches(list(parser), schema=parser.schema)


# --------------------------------------------------------------------------- parsed exactly
PARSED = {
    # file: (table, rows, {row index: expected subset of the row})
    "mwsql__testfile.sql": ("change_tag_def", 84, {0: {"ctd_id": 1, "ctd_name": "mw-replace", "ctd_user_defined": 0,
                                                       "ctd_count": 10200},
                                                   2: {"ctd_id": 3, "ctd_name": "mw-undo", "ctd_count": 58220}}),
    "mwsql__testfile.sql.gz": ("change_tag_def", 84, {8: {"ctd_id": 9, "ctd_name": "mw-new-redirect", "ctd_count": 29681}}),
    "mwsql__testfile-with-null-values.sql": ("change_tag_def", 84, {}),
    "WikiStats__test-20240901-page.sql": ("page", 14, {0: {"page_id": 1, "page_namespace": 0, "page_title": "Main_Page",
                                                          "page_is_redirect": 0, "page_content_model": "wikitext"},
                                                      4: {"page_id": 7, "page_namespace": 2, "page_title": "MarcoAurelio"}}),
    "WikiStats__test-20240901-linktarget.sql": ("linktarget", 4, {3: {"lt_id": 2, "lt_namespace": 3, "lt_title": "NONARTICLE3"}}),
    "index66478358159__enwiktionary-categorylinks-fixture.sql": (
        "categorylinks", 7, {0: {"cl_from": 2, "cl_to": "English_language", "cl_sortkey": b"ENGLISH LEMMAS\nENGLISH LEMMAS",
                                 "cl_type": "page", "cl_target_id": 71812955}}),
    "index66713845980__enwiktionary-linktarget-sandbox-fixture.sql": (
        "linktarget", 6, {0: {"lt_id": 10, "lt_namespace": 14, "lt_title": "English language"},
                          5: {"lt_id": 15, "lt_namespace": 10, "lt_title": "lb"}}),
}


@pytest.mark.parametrize("name", sorted(PARSED))
def test_complete_real_dumps_parse_exactly(sql_dir, name):
    table_name, rows, expected = PARSED[name]
    fast, exact = _parse(sql_dir / name, True), _parse(sql_dir / name, False)
    assert fast.equals(exact)
    assert DumpParser(sql_dir / name).spec.name == table_name
    assert fast.num_rows == rows
    got = fast.to_pylist()
    for index, subset in expected.items():
        assert {k: got[index][k] for k in subset} == subset


def test_the_null_values_variant_differs_only_by_its_nulls(sql_dir):
    plain = _parse(sql_dir / "mwsql__testfile.sql", True).to_pylist()
    nulls = _parse(sql_dir / "mwsql__testfile-with-null-values.sql", True).to_pylist()
    assert nulls[4:] == plain[4:]
    assert nulls[:4] == [  # NULL in each column once; 'mw-replace?NULL' is a string, not a NULL
        {"ctd_id": None, "ctd_name": "mw-replace?NULL", "ctd_user_defined": 0, "ctd_count": 10200},
        {"ctd_id": 2, "ctd_name": None, "ctd_user_defined": 0, "ctd_count": 305860},
        {"ctd_id": 3, "ctd_name": "mw-undo", "ctd_user_defined": None, "ctd_count": 58220},
        {"ctd_id": 4, "ctd_name": "mw-rollback", "ctd_user_defined": 0, "ctd_count": None},
    ]


# --------------------------------------------------------------------------- refused cleanly
REFUSED = {
    # file: (line, byte, what the message says) — both paths, with or without --allow-partial
    "WikiPageRank__simplewiki-20170901-page.sql": (30, 2154, "expected '(' after ','"),  # rows cut with " ... ;"
    "WikiPageRank__simplewiki-20170901-pagelinks.sql": (22, 1691, "expected '(' after ','"),
    "WikiStats__dewiki-20240901-linktarget-small.sql": (39, 6553, "expected '(' after ','"),  # a spliced "), ("
    "WikiStats__dewiki-20240901-pagelinks-small.sql": (20, 11908, "expected ',' or ';' after a row"),  # no ';'
    "WikiStats__test-20240901-pagelinks.sql": (40, 1638, "expected '(' after ','"),  # a hand-edited "(42, 2, 7)"
}


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "exact"])
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_truncated_or_hand_edited_real_dumps_are_refused_naming_line_and_byte(sql_dir, name, fast):
    line, byte, reason = REFUSED[name]
    path = sql_dir / name
    for allow_partial in (False, True):
        with pytest.raises(InputError) as refused:
            _parse(path, fast, allow_partial=allow_partial)
        assert str(refused.value).startswith(f"{path}, line {line}, byte {byte}: ")
        assert reason in str(refused.value)


def test_every_real_dump_is_covered(sql_dir):
    assert sorted(p.name for p in sql_dir.iterdir() if p.name.endswith((".sql", ".sql.gz"))) == sorted({*PARSED, *REFUSED})


def test_the_transitional_categorylinks_shape_is_read_by_its_cl_to(sql_dir):
    """2025 enwiktionary: ``cl_to`` (authoritative) and a nullable ``cl_target_id`` side by side.
    The ingest reads ``cl_to``: no linktarget join, no row lost to a NULL target id."""
    path = sql_dir / "index66478358159__enwiktionary-categorylinks-fixture.sql"
    assert _choose_columns(path, "categorylinks") == ["cl_from", "cl_to"]
    links = _parse(path, True, columns=["cl_from", "cl_to"], text_columns={"categorylinks": ["cl_to"]})
    pages = pa.table({"page_id": pa.array([2, 3, 4, 7, 8], pa.int64())})
    cats = build_article_categories("enwiktionary", pages, links, None, str(path))
    assert sorted(zip(cats["page_id"].to_pylist(), cats["category"].to_pylist(), strict=True))[:3] == [
        (2, "English_language"), (3, "English_language"), (4, "English_language")]
    assert cats.num_rows == 7


# --------------------------------------------------------------------------- dumpstatus.json
def _status_files(dumpstatus_dir: Path) -> list[Path]:
    return sorted(dumpstatus_dir.glob("*-dumpstatus.json"))


def test_real_dumpstatus_files_parse_exactly(dumpstatus_dir):
    files = _status_files(dumpstatus_dir)
    assert len(files) == 7
    for path in files:
        wiki, date, _ = path.name.split("-", 2)
        data = json.loads(path.read_text("utf-8"))
        run = parse_dumpstatus(wiki, date, data, url=str(path))
        assert run.version == "0.8" and len(run.jobs) == 48
        assert run.ready(WIKI_TABLES), run.missing(WIKI_TABLES)
        job = run.job("imagelinks")
        assert job is not None
        [info] = job.files
        raw = data["jobs"]["imagelinkstable"]["files"][info.name]
        assert (info.size, info.url, info.md5, info.sha1) == (raw["size"], raw["url"], raw["md5"], raw["sha1"])
        assert info.url == f"/{wiki}/{date}/{wiki}-{date}-imagelinks.sql.gz"
        skipped = sorted(name for name, j in run.jobs.items() if j.status == "skipped")
        assert skipped == (["metahistory7zdump", "metahistorybz2dump"] if date.endswith("20") else [])
        assert all(not run.jobs[name].files for name in skipped)
        # a run of the 20th is finished: its skipped jobs are skipped by design
        assert run.complete, run.summary()


class _Session:
    """Serves the real files as dumps.wikimedia.org would (index page + dumpstatus.json)."""

    def __init__(self, dumpstatus_dir: Path) -> None:
        self.files = {p.name.split("-")[1]: p for p in _status_files(dumpstatus_dir)}
        self.headers: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        path = url.removeprefix("http://dumps.test")
        body, status = b"Not Found", 404
        if path == "/enwiki/":
            body = "".join(f'<a href="{d}/">{d}/</a>\n' for d in sorted(self.files)).encode()
            status = 200
        elif path.startswith("/enwiki/") and path.endswith("/dumpstatus.json") and path.split("/")[2] in self.files:
            body, status = self.files[path.split("/")[2]].read_bytes(), 200
        response = requests.Response()
        response.status_code, response.url, response.raw = status, url, io.BytesIO(body)
        response.reason = "OK" if status == 200 else "Not Found"
        return response

    def close(self) -> None:
        pass


def test_the_client_chooses_among_the_real_runs(dumpstatus_dir, settings):
    client = DumpsClient(settings.replace(dumps_url="http://dumps.test"), session=_Session(dumpstatus_dir),  # type: ignore[arg-type]
                         policy=RetryPolicy(max_attempts=1))
    assert client.find_run("enwiki", WIKI_TABLES).date == "20240920"
    assert client.find_run("enwiki", WIKI_TABLES, at_or_before="20240819").date == "20240801"
    assert client.run_status("enwiki", "20240720").complete
