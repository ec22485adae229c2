"""Per-wiki ingest source settings (dumps | replica | auto)."""

from __future__ import annotations

import pytest

from wikivis.config import load_settings
from wikivis.errors import ConfigError


def test_ingest_sources_from_env_and_defaults() -> None:
    s = load_settings(env={"WIKIVIS_INGEST_SOURCES": "enwiki=auto, samplewiki=replica"})
    assert (s.ingest_source("enwiki"), s.ingest_source("samplewiki"), s.ingest_source("dewiki")) == \
        ("auto", "replica", "dumps")


@pytest.mark.parametrize("entry", ["enwiki", "enwiki=ftp", "EN WIKI=dumps", "=dumps"])
def test_bad_ingest_sources_are_refused(entry: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(env={}, ingest_sources=(entry,))
