"""The Wikidata clients against the mirror: wbgetentities batching, typed errors, SPARQL over
GET and POST, the 60-second timeout, 429/Retry-After and maxlag, and consistency of the items
with the sample wiki and its second-language wiki."""

from __future__ import annotations

import pytest

from wikivis.errors import InputError, MalformedQuery, NoSitelinks, QueryTimeout, UnknownItem
from wikivis.sample.wikidata import SECOND_WIKI, second_wiki_tables, wikidata_state
from wikivis.sources.commons import ActionApiClient
from wikivis.sources.http import RetryPolicy, polite_session
from wikivis.sources.wikidata import (
    SparqlClient,
    WikidataClient,
    entity_id,
    filepath_name,
    instances_with_image_query,
)

pytestmark = pytest.mark.integration


def _no_sleep(_: float) -> None:
    return None


def test_entities_batches_of_50_and_match_the_sample(mirror, sample_wiki) -> None:
    client = WikidataClient.from_settings(mirror.settings())
    state = sample_wiki.state(sample_wiki.n_days)
    props = {r["pp_page"]: r["pp_value"] for r in state.tables["page_props"] if r["pp_propname"] == "wikibase_item"}
    titles = {r["page_id"]: r["page_title"] for r in state.tables["page"]}
    ids = sorted(props.values())[:120]
    entities = list(client.entities(ids + ids[:5]))  # duplicates asked once
    assert [e.requested for e in entities] == ids
    assert client.counters.requests == 3  # 50 + 50 + 20
    by_item = {v: k for k, v in props.items()}
    for e in entities:
        assert not e.missing
        assert e.sitelink(sample_wiki.wiki) == titles[by_item[e.id]].replace("_", " ")
    assert any(e.images for e in entities) and any(e.commons_category for e in entities)
    assert any(SECOND_WIKI in e.sitelinks for e in entities)
    files = set(sample_wiki.file_info)
    assert all(f in files for e in entities for f in e.images)


def test_second_wiki_dump_and_api_agree_with_sitelinks(mirror, sample_wiki) -> None:
    day = sample_wiki.n_days
    date = sample_wiki.dates[day]
    url = f"{mirror.urls['dumps']}/{SECOND_WIKI}/{date}/{SECOND_WIKI}-{date}-page_props.sql.gz"
    session = polite_session(mirror.settings())
    response = session.get(url)
    assert response.status_code == 200 and response.content[:2] == b"\x1f\x8b"
    tables = second_wiki_tables(sample_wiki, day)
    items = wikidata_state(sample_wiki, day).items
    for row in tables["page_props"]:
        if row["pp_propname"] == "wikibase_item":
            page = next(p for p in tables["page"] if p["page_id"] == row["pp_page"])
            assert items[row["pp_value"]].sitelinks[SECOND_WIKI] == page["page_title"].replace("_", " ")
    api = ActionApiClient.from_settings(mirror.settings(), SECOND_WIKI)
    title = tables["page"][0]["page_title"]
    (pi,) = api.page_images(titles=[title])
    assert pi.page_id == tables["page"][0]["page_id"] and pi.problem is None


def test_typed_errors_for_items(mirror) -> None:
    client = WikidataClient.from_settings(mirror.settings())
    with pytest.raises(UnknownItem, match="Q999"):
        client.entity("Q999")
    bird = client.entity("q5113")  # a class item: label, no sitelinks
    assert bird.label == "bird"
    with pytest.raises(NoSitelinks, match="no sitelinks at all"):
        bird.sitelink("samplewiki")
    sent = client.counters.requests
    for hostile in ("Q0", "Q-1", "P31", "Q1|Q2", "Q1' OR '1'='1", "", "Q" + "9" * 40, "Ｑ42"):
        with pytest.raises(InputError):
            list(client.entities([hostile]))
    assert client.counters.requests == sent  # refused before anything was sent


def test_wbgetentities_retries_maxlag(mirror_factory) -> None:
    m = mirror_factory(faults={"api": "maxlag"})
    m.api.maxlag_retry_after = 1
    settings = m.settings()
    client = WikidataClient.from_settings(settings, sleep=_no_sleep)
    assert len(list(client.entities([f"Q{1_000_000 + 7 * i}" for i in range(1, 8)]))) == 7
    assert client.counters.throttled >= 1


def test_sparql_get_post_and_results(mirror, sample_wiki) -> None:
    settings = mirror.settings()
    client = SparqlClient.from_settings(settings)
    result = client.query(instances_with_image_query("Q5113"))
    assert result.vars == ("item", "image")
    items = wikidata_state(sample_wiki).items
    expected = {(q, f) for q, it in items.items() if "Q5113" in it.instance_of for f in it.images}
    got = {(entity_id(r["item"]), filepath_name(r["image"])) for r in result.rows()}
    assert got == expected and got
    long_query = instances_with_image_query("Q5113") + "\n# " + "padding " * 400
    post = SparqlClient.from_settings(settings.replace(wdqs_post_threshold=100))
    assert post.query(long_query).bindings == result.bindings
    labelled = client.query(
        'PREFIX wd: <http://www.wikidata.org/entity/>\nSELECT DISTINCT ?item ?itemLabel WHERE {\n'
        '  ?item <http://www.wikidata.org/prop/direct/P373> "Birds" .\n'
        '  SERVICE wikibase:label { bd:serviceParam wikibase:language "en". }\n} ORDER BY ?item LIMIT 3'
    )
    rows = list(labelled.rows())
    assert len(rows) == 3 and all(r["itemLabel"] for r in rows)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELEC ?x WHERE { ?x wdt:P31 wd:Q5 }", "SELECT"),
        ("SELECT ?x WHERE { ?x ?p ?o }", "variable predicate"),
        ("SELECT ?x WHERE { ?x wdt:P31 wd:Q5 . FILTER(?x) }", "FILTER"),
        ("SELECT ?x WHERE { ?x wdt:P31/wdt:P279* wd:Q5 }", "property paths"),
        ("SELECT ?x WHERE { ?x wdt:P31 wd:Q5 ", "<EOF>"),
        ("SELECT ?y WHERE { ?x wdt:P31 wd:Q5 }", "not bound"),
        ("SELECT ?x WHERE { ?x foo:P31 wd:Q5 }", "undefined prefix"),
        ('SELECT ?x WHERE { ?x wdt:P373 "Ünïcødé \\" }; DROP ALL" }', None),
        ("   ", "empty"),
    ],
)
def test_malformed_sparql_is_a_typed_error_with_the_server_message(mirror, query, message) -> None:
    client = SparqlClient.from_settings(mirror.settings())
    if message is None:  # hostile but well-formed: an honest empty answer
        assert client.query(query).bindings == ()
        return
    with pytest.raises(MalformedQuery, match=message):
        client.query(query)


def test_query_timeout_is_reported_not_retried(mirror_factory) -> None:
    m = mirror_factory()
    m.api.wdqs_max_work = 10
    client = SparqlClient.from_settings(m.settings())
    with pytest.raises(QueryTimeout, match="60-second"):
        client.query(instances_with_image_query("Q5113"))
    assert client.counters.requests == 1


def test_sparql_honours_429_retry_after(mirror_factory) -> None:
    m = mirror_factory(faults={"api": "throttle"})
    client = SparqlClient.from_settings(m.settings())
    client.policy = RetryPolicy(statuses=frozenset({429}), backoff_initial_s=0.01)
    for _ in range(6):
        client.query(instances_with_image_query("Q5113", limit=2))
    assert client.counters.throttled >= 1
    assert m.stats["api"]["ignored_retry_after"] == 0
    assert m.stats["api"]["bad_user_agent"] == 0


def test_wdqs_answers_429_past_its_parallel_query_limit(mirror_factory) -> None:
    from concurrent.futures import ThreadPoolExecutor

    m = mirror_factory()
    m.api.wdqs_max_parallel = 1
    m.api.wdqs_latency_s = 0.3
    settings = m.settings()
    session = polite_session(settings, pool_size=3)

    def raw(_: int) -> int:
        return session.get(settings.wdqs_url, params={"query": instances_with_image_query("Q5113", limit=1)}).status_code

    with ThreadPoolExecutor(3) as pool:
        statuses = sorted(pool.map(raw, range(3)))
    assert statuses[0] == 200 and 429 in statuses
    retrying = SparqlClient.from_settings(settings)  # waits Retry-After (1 s) for real
    retrying.policy = RetryPolicy(statuses=frozenset({429}), backoff_initial_s=0.01)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: retrying.query(instances_with_image_query("Q5113", limit=1)), range(3)))
    assert all(len(r.bindings) == 1 for r in results)


def test_the_second_wiki_ingests_from_its_own_dumps(mirror, sample_wiki, tmp_path) -> None:
    from wikivis.dumps.ingest import ingest
    from wikivis.lake import Lake

    settings = mirror.settings(home=tmp_path / "home")
    lake = Lake.from_settings(settings)
    result = ingest(settings, SECOND_WIKI, lake=lake)
    items = lake.read("article_items", SECOND_WIKI, result.snapshot).to_pylist()
    state = wikidata_state(sample_wiki, sample_wiki.dates.index(result.snapshot))
    assert {r["item"] for r in items} == {q for q, i in state.items.items() if SECOND_WIKI in i.sitelinks}
    assert result.rows["article_images"] > 0
