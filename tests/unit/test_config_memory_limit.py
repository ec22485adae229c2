"""The memory_limit setting (WIKIVIS_MEMORY_LIMIT): sizes with units, the RAM-based default."""

from __future__ import annotations

import pytest

from wikivis.config import default_memory_limit, load_settings, parse_size
from wikivis.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "size"),
    [("512MiB", 512 << 20), ("2GiB", 2 << 30), ("1.5G", 3 << 29), ("256 mib", 256 << 20), ("300MB", 300_000_000),
     ("1048576", 1 << 20), ("64k", 64 << 10)],
)
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1GiB", "0", "12XB"])
def test_bad_sizes_are_config_errors(text):
    with pytest.raises(ConfigError):
        parse_size(text)


def test_setting_from_env_and_default():
    assert load_settings(env={"WIKIVIS_MEMORY_LIMIT": "768MiB"}).memory_limit_bytes == 768 << 20
    default = load_settings(env={}).memory_limit_bytes
    assert default == default_memory_limit()
    assert 256 << 20 <= default <= 4 << 30
    with pytest.raises(ConfigError, match="size"):
        load_settings(env={"WIKIVIS_MEMORY_LIMIT": "plenty"})
