"""Pure parsing of wbgetentities entities (ranks, snak types, hostile shapes) and SPARQL result values."""

from __future__ import annotations

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
