from __future__ import annotations

import pytest

from wikivis.recommend.synthetic import SyntheticWiki, synthetic_wiki


@pytest.fixture(scope="session")
def synth() -> SyntheticWiki:
    return synthetic_wiki(seed=0, dim=32, n_articles=200, n_images=300, n_topics=8)
