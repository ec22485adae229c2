"""Pytest fixtures for the local Wikimedia mirror (registered by ``tests/conftest.py``).

* ``sample_wiki`` (session): the default sample wiki; image bytes are cached under
  ``$WIKIVIS_SAMPLE_CACHE`` (default ``var/cache/sample``), so only the first run renders.
* ``mirror`` (session): a started :class:`~wikivis.mirror.Mirror` without faults.  Tests
  that read ``mirror.stats`` should call ``mirror.reset_stats()`` first; tests that change
  its tunables (day, lag) must restore them — or use ``mirror_factory``.
* ``mirror_factory`` (function): ``mirror_factory(faults="flaky", **options)`` starts a
  fresh mirror (free ports) that is closed after the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

#: the defaults build in a few seconds (≈1 s once the image cache is warm)
SAMPLE_PARAMS = {"seed": 0, "n_articles": 300, "n_files": 500, "n_days": 5}


@pytest.fixture(scope="session")
def sample_wiki() -> Any:
    from wikivis.sample import generate

    cache = Path(os.environ.get("WIKIVIS_SAMPLE_CACHE", "var/cache/sample"))
    return generate(**SAMPLE_PARAMS, cache_dir=cache)


@pytest.fixture(scope="session")
def mirror(sample_wiki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from wikivis.mirror import Mirror

    with Mirror(sample_wiki, home=tmp_path_factory.mktemp("mirror-home")) as running:
        yield running


@pytest.fixture
def mirror_factory(sample_wiki: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    from wikivis.mirror import Mirror

    started: list[Any] = []

    def make(faults: Any = "none", **options: Any) -> Any:
        options.setdefault("home", tmp_path / f"mirror-home-{len(started)}")
        sample = options.pop("sample", sample_wiki)
        running = Mirror(sample, faults=faults, **options).start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.close()
