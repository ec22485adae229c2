"""Pure parsing: wbgetentities entities (ranks, snak types, hostile shapes), the mirror's SPARQL
subset, and the sample's Wikidata being additive (the sample wiki stays byte-identical)."""

from __future__ import annotations

import pytest

from wikivis.mirror.wikidata import SparqlError, parse, run_sparql
from wikivis.sample.wikidata import Item
from wikivis.sources.wikidata import entity_id, filepath_name, parse_entity


def statement(prop: str, value, rank: str = "normal", snaktype: str = "value") -> dict:
    snak = {"snaktype": snaktype, "property": prop}
    if snaktype == "value":
        snak["datavalue"] = {"value": value, "type": "string"}
    return {"mainsnak": snak, "rank": rank, "type": "statement"}


def test_parse_entity_ranks_snaks_and_hostile_values() -> None:
    body = {
        "id": "Q42",
        "labels": {"en": {"language": "en", "value": "Douglas Adams"}},
        "claims": {
            "P18": [statement("P18", "Old.jpg", "deprecated"), statement("P18", "B b.jpg"),
                    statement("P18", "A a.jpg", "preferred"), statement("P18", None, snaktype="novalue"),
                    statement("P18", {"not": "a string"}), statement("P18", "  ")],
            "P373": [statement("P373", "Category:Douglas Adams")],
            "P31": [statement("P31", {"entity-type": "item", "id": "Q5"}), statement("P31", "Q5")],
        },
        "sitelinks": {"enwiki": {"site": "enwiki", "title": "Douglas Adams"}, "bad": "not a dict"},
    }
    e = parse_entity("q42", body)
    assert e.images == ("A_a.jpg", "B_b.jpg")  # preferred first, deprecated and novalue dropped
    assert e.commons_category == "Douglas Adams" and e.instance_of == ("Q5",)
    assert e.sitelinks == {"enwiki": "Douglas Adams"} and e.label == "Douglas Adams"
    assert parse_entity("Q1", {"id": "Q1", "missing": ""}).missing
    assert parse_entity("Q2", {"id": "Q2"}).images == ()


def test_result_values() -> None:
    assert entity_id("http://www.wikidata.org/entity/Q5") == "Q5"
    assert filepath_name("http://commons.wikimedia.org/wiki/Special:FilePath/A%20b%C3%A9.jpg") == "A_bé.jpg"
    assert filepath_name("literal") == "literal"


ITEMS = {
    "Q1": Item("Q1", "one", ("Q5",), ("A.jpg",), "Cats", {"samplewiki": "One"}),
    "Q2": Item("Q2", "two", ("Q5",), (), None, {"samplewiki": "Two"}),
    "Q5": Item("Q5", "human"),
}


def test_sparql_subset_with_comments_prefixes_and_labels() -> None:
    query = """
    PREFIX wikibase: <http://wikiba.se/ontology#>   # the standard prefix holds a '#'
    SELECT ?item ?itemLabel ?image WHERE {
      ?item wdt:P31 wd:Q5 .   # instance of human
      ?item wdt:P18 ?image .
      SERVICE wikibase:label { bd:serviceParam wikibase:language "en". }
    }"""
    body = run_sparql(query, ITEMS, max_work=1000)
    assert body["head"]["vars"] == ["item", "itemLabel", "image"]
    (row,) = body["results"]["bindings"]
    assert row["item"]["value"].endswith("/Q1") and row["itemLabel"]["value"] == "one"
    assert row["image"]["value"].endswith("Special:FilePath/A.jpg")
    star = run_sparql("SELECT * { ?x wdt:P31 wd:Q5 } ORDER BY ?x LIMIT 1 OFFSET 1", ITEMS, max_work=1000)
    assert [b["x"]["value"][-2:] for b in star["results"]["bindings"]] == ["Q2"]


@pytest.mark.parametrize("query", [
    "", "SELECT", "SELECT ?x WHERE { ?x wdt:P31 wd:Q5 } LIMIT x", "SELECT ?x WHERE { ?x wdt:P999 ?y }",
    "SELECT ?x WHERE { <http://evil.example/> wdt:P31 ?x }", "SELECT ?x WHERE { ?x wdt:P31 \"unterminated }",
    "SELECT ?x WHERE { ?x wdt:P31 wd:Q5 } ; DROP ALL", "\x00\x01", "SELECT ?x WHERE { { ?x wdt:P31 wd:Q5 } }",
])
def test_sparql_refuses_what_it_does_not_implement(query: str) -> None:
    with pytest.raises(SparqlError) as err:
        parse(query)
    assert "MalformedQueryException" in str(err.value) and not err.value.timeout


def test_the_sample_stays_byte_identical() -> None:
    from wikivis.sample import generate
    from wikivis.sample.wikidata import SECOND_WIKI, wikidata_state

    sample = generate(seed=3, n_articles=20, n_files=40, n_days=1)
    before = sample.digest()
    state = wikidata_state(sample, 1)
    assert sample.digest() == before
    assert wikidata_state(sample, 1) is state  # memoised
    props = {r["pp_page"]: r["pp_value"] for r in sample.state(1).tables["page_props"] if r["pp_propname"] == "wikibase_item"}
    assert set(props.values()) <= set(state.items)
    second = {r["pp_value"] for r in state.second_tables["page_props"] if r["pp_propname"] == "wikibase_item"}
    assert second == {q for q, i in state.items.items() if SECOND_WIKI in i.sitelinks}
