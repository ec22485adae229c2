"""The mirror's SPARQL subset (comments, prefixes, labels) and what it refuses."""

from __future__ import annotations

import pytest

from wikivis.mirror.wikidata import SparqlError, parse, run_sparql
from wikivis.sample.wikidata import Item

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
