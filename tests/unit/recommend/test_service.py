from __future__ import annotations

import pytest

from wikivis.errors import NotFoundError
from wikivis.recommend.curatornet import CuratorNetConfig
from wikivis.recommend.filters import ImageFilter
from wikivis.recommend.service import ModelUnavailable, RecommenderService
from wikivis.recommend.synthetic import fake_sha1
from wikivis.recommend.training import article_profiles, train_on_profiles


@pytest.fixture(scope="module")
def service(synth) -> RecommenderService:
    return RecommenderService(synth.data)


def illustrated(service: RecommenderService) -> int:
    return next(
        p for p, items in sorted(service.data.page_items.items()) if sum(service.filter.allowed(s) for s in items) >= 2
    )


def test_similar_excludes_query_dedupes_and_filters(service, synth) -> None:
    data = synth.data
    query = data.display_name(data.page_items[illustrated(service)][0])
    results = service.similar(f"File:{query}", 15)
    sha1s = [r.sha1 for r in results]
    assert len(results) == 15
    assert len(set(sha1s)) == 15
    assert data.resolve_file(query) not in sha1s
    assert all(service.filter.allowed(s) for s in sha1s)
    assert [r.rank for r in results] == list(range(1, 16))
    assert all(r.source == "similar" and r.seed_images == (query,) for r in results)
    assert results[0].score >= results[-1].score
    # the re-upload (second name, same sha1) is one image, never its own neighbour
    copy = service.similar("Topic01_photo_copy.jpg", 5)
    assert fake_sha1(data.files_of_sha1[data.file_sha1["Topic01_photo_copy.jpg"]][0]) not in [r.sha1 for r in copy]


def test_unknown_inputs_raise_not_found(service) -> None:
    with pytest.raises(NotFoundError, match="unknown file"):
        service.similar("No_such_file.jpg")
    with pytest.raises(NotFoundError, match="unknown article"):
        service.suggest("No such article")


def test_suggest_for_illustrated_article(service, synth) -> None:
    page = illustrated(service)
    own = set(synth.data.page_items[page])
    result = service.suggest(synth.data.titles[page].replace("_", " "), 10)
    assert result.illustrated
    assert result.model == "visrank"
    assert result.page_id == page
    assert len(result.suggestions) == 10
    assert not {s.sha1 for s in result.suggestions} & own
    own_names = {synth.data.display_name(s) for s in own}
    for s in result.suggestions:
        assert s.source == "visrank"
        assert s.seed_images
        assert set(s.seed_images) <= own_names
        assert service.filter.allowed(s.sha1)
    topic = synth.topic_of_page[page]
    assert sum(synth.topic_of_sha1[s.sha1] == topic for s in result.suggestions) >= 8


def test_suggest_for_unillustrated_article_uses_category_seeds(service, synth) -> None:
    page = synth.unillustrated[0]
    result = service.suggest(synth.data.titles[page], 5)
    assert not result.illustrated
    assert result.seed_articles
    assert result.note == ""
    assert all(s.source == "category_seed" and s.seed_articles and s.seed_images for s in result.suggestions)
    related_titles = {r.title for r in result.seed_articles}
    assert all(set(s.seed_articles) <= related_titles for s in result.suggestions)
    topic = synth.topic_of_page[page]
    assert sum(synth.topic_of_sha1[s.sha1] == topic for s in result.suggestions) >= 4
    d = result.to_dict()
    assert d["suggestions"][0]["rank"] == 1
    assert isinstance(d["seed_articles"][0]["via"], list)


def test_article_without_any_usable_seed_gets_a_note(synth) -> None:
    strict = RecommenderService(synth.data, image_filter=ImageFilter.for_data(synth.data, threshold=-1))
    result = strict.suggest(synth.data.titles[synth.unillustrated[0]])
    assert result.suggestions == []
    assert "no related article" in result.note


def test_curatornet_reranks_with_provenance(synth) -> None:
    data = synth.data
    with pytest.raises(ModelUnavailable):
        RecommenderService(data).suggest(data.titles[synth.unillustrated[0]], model="curatornet")
    model = train_on_profiles(data, article_profiles(data), CuratorNetConfig(epochs=3, hidden=32), device="cpu")
    service = RecommenderService(data, curatornet=model)
    page = illustrated(service)
    result = service.suggest(data.titles[page], 5)  # auto → curatornet
    assert result.model == "curatornet"
    assert all(s.source == "curatornet" and s.seed_images for s in result.suggestions)
    assert not {s.sha1 for s in result.suggestions} & set(data.page_items[page])
    assert service.suggest(data.titles[page], 5, model="visrank").model == "visrank"
    with pytest.raises(ValueError, match="unknown model"):
        service.suggest(data.titles[page], model="vbpr")  # type: ignore[arg-type]


def test_health(service) -> None:
    h = service.health()
    assert h["status"] == "ok"
    assert h["images"] == len(service.data.item_ids)
    assert h["index"] == "exact"
