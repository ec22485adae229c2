"""The sample's Wikidata is additive: the sample wiki stays byte-identical."""

from __future__ import annotations


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
