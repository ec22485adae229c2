"""The sample wiki's wikitext and captions: additive, image-dependent, multilingual."""

from __future__ import annotations

import random
from collections import Counter

from wikivis.captions.extract import extract
from wikivis.gates.captions import bad_alt_reason, has_markup
from wikivis.sample import images
from wikivis.sample.captions import article_wikitext, describe, facts, file_descriptions, file_labels


def test_visual_facts_replay_the_real_drawing(sample_wiki):
    names = sorted(n for n, i in sample_wiki.file_info.items() if i["format"] != "svg")[::40]
    for name in names:
        spec = sample_wiki._specs[sample_wiki.file_sha1(name)]
        rng = random.Random(spec.seed)
        images._background(spec, rng)  # the real draws, with the pixels
        count = rng.randint(*images.TOPIC_STYLES[spec.topic].shape_count)
        fact = images.visual_facts(spec)
        assert fact.count == count and fact.topic == spec.topic


def test_wikitext_is_additive_and_its_captions_describe_the_images(sample_wiki):
    digest = sample_wiki.digest()
    state = sample_wiki.state(sample_wiki.n_days).tables
    page_ids = [r["page_id"] for r in state["page"] if r["page_namespace"] == 0 and not r["page_is_redirect"]]
    used = Counter()
    rows = []
    for page_id in page_ids:
        text = article_wikitext(sample_wiki, page_id)
        assert text and text == article_wikitext(sample_wiki, page_id)  # deterministic
        for row in extract(text, wiki=sample_wiki.wiki):
            rows.append((page_id, row))
            used[row.source] += 1
    assert sample_wiki.digest() == digest  # tables, events, files and metadata untouched
    assert set(used) == {"link", "gallery", "infobox"}
    lt = {r["lt_id"]: r["lt_title"] for r in state["linktarget"]}
    linked = {(r["il_from"], lt[r["il_target_id"]]) for r in state["imagelinks"]}
    assert {(p, r.file_name) for p, r in rows} <= linked  # every extracted image is an imagelink
    ns0 = {p for p in page_ids}
    images_ = {pair for pair in linked if pair[0] in ns0}
    captioned = {(p, r.file_name) for p, r in rows if r.caption}
    with_alt = {(p, r.file_name) for p, r in rows if r.alt}
    assert 0.3 < len(captioned) / len(images_) < 0.6
    assert 0.08 < len(with_alt) / len(images_) < 0.25
    bad = [r for _, r in rows if bad_alt_reason(r.alt, r.file_name)]
    assert 0 < len(bad) < len(with_alt) / 2
    checked = 0
    for _, row in rows:
        assert not has_markup(row.caption) and not has_markup(row.alt)
        f = facts(sample_wiki, row.file_name)
        if row.caption and f is not None and f.topic != "icons":
            assert describe(f, tone=False).lower() in row.caption.lower()
            checked += 1
    assert checked > 100


def test_file_labels_and_descriptions_in_several_languages(sample_wiki):
    names = sorted(n for n, i in sample_wiki.file_info.items() if i["topic"] != "icons")
    labels = {n: file_labels(sample_wiki, n) for n in names}
    langs = Counter(lang for texts in labels.values() for lang in texts)
    assert {"en", "de", "fr", "es"} <= set(langs)
    assert 0.5 < sum(bool(t) for t in labels.values()) / len(names) < 0.8
    name = next(n for n, t in labels.items() if {"en", "de"} <= set(t))
    f = facts(sample_wiki, name)
    assert f is not None and labels[name]["de"].lower() == describe(f, "de").lower()
    descriptions = [file_descriptions(sample_wiki, n) for n in names]
    assert all(d["en"] == sample_wiki.file_info[n]["description"] for n, d in zip(names, descriptions, strict=True))
    assert sum("fr" in d for d in descriptions) > 20
    assert file_labels(sample_wiki, "Flag_of_France.svg") == {}
