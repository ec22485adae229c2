from __future__ import annotations

import pytest

from wikivis.recommend.service import RecommenderService
from wikivis.recommend.synthetic import SyntheticWiki, synthetic_wiki


@pytest.fixture(scope="session")
def synth() -> SyntheticWiki:
    return synthetic_wiki(seed=0, dim=16, n_articles=120, n_images=160, n_topics=6)


@pytest.fixture(scope="session")
def service(synth) -> RecommenderService:
    return RecommenderService(synth.data)
