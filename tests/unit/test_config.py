from pathlib import Path

import pytest

from wikivis.config import STANDARD_THUMB_WIDTHS, check_wiki_name, load_settings, wiki_domain
from wikivis.errors import ConfigError, PolicyError


def test_defaults_are_local_and_embedded(tmp_path):
    s = load_settings(env={})
    assert s.profile == "local"
    assert s.home == Path("var")
    assert s.resolved_catalog_url.startswith("sqlite:///")
    assert s.dumps_url.startswith("http://127.0.0.1:")
    assert s.thumb_width in STANDARD_THUMB_WIDTHS


def test_env_and_toml_precedence(tmp_path):
    toml = tmp_path / "w.toml"
    toml.write_text('thumb_width = 500\nwikis = ["enwiki", "dewiki"]\nmax_images = 10\n')
    s = load_settings(env={"WIKIVIS_CONFIG": str(toml), "WIKIVIS_MAX_IMAGES": "20"})
    assert s.thumb_width == 500
    assert s.wikis == ("enwiki", "dewiki")
    assert s.max_images == 20  # env beats the file
    assert load_settings(env={}, config_file=toml, max_images=3).max_images == 3


def test_settings_are_frozen():
    s = load_settings(env={})
    with pytest.raises(AttributeError):
        s.thumb_width = 500  # type: ignore[misc]


def test_unknown_key_and_bad_value_are_clear(tmp_path):
    toml = tmp_path / "w.toml"
    toml.write_text("thumb_widht = 500\n")
    with pytest.raises(ConfigError, match="unknown setting 'thumb_widht'"):
        load_settings(env={}, config_file=toml)
    with pytest.raises(ConfigError, match="max_images"):
        load_settings(env={"WIKIVIS_MAX_IMAGES": "lots"})


def test_non_standard_thumb_width_refused():
    with pytest.raises(PolicyError, match="standard"):
        load_settings(env={}, thumb_width=300)


def test_live_profile_needs_contact():
    s = load_settings(env={"WIKIVIS_PROFILE": "live"})
    assert s.dumps_url == "https://dumps.wikimedia.org"
    with pytest.raises(PolicyError, match="contact"):
        _ = s.user_agent
    ok = load_settings(env={"WIKIVIS_PROFILE": "live", "WIKIVIS_CONTACT": "https://example.org; me@example.org"})
    assert ok.user_agent.startswith("wikivis/") and "me@example.org" in ok.user_agent


def test_live_profile_refuses_impolite_limits():
    with pytest.raises(PolicyError, match="2 connections"):
        load_settings(env={"WIKIVIS_PROFILE": "live", "WIKIVIS_UPLOAD_MAX_CONCURRENCY": "4"})


@pytest.mark.parametrize("bad", ["", "EnWiki", "en wiki", "enwiki; DROP", "../etc", "x"])
def test_wiki_names_are_allow_listed(bad):
    with pytest.raises(ConfigError):
        check_wiki_name(bad)


def test_wiki_domains():
    assert wiki_domain("enwiki") == "en.wikipedia.org"
    assert wiki_domain("commonswiki") == "commons.wikimedia.org"
    assert wiki_domain("zh_min_nanwiki") == "zh-min-nan.wikipedia.org"
    assert wiki_domain("frwiktionary") == "fr.wiktionary.org"
    s = load_settings(env={"WIKIVIS_PROFILE": "live"})
    assert s.wiki_api_url("dewiki") == "https://de.wikipedia.org/w/api.php"
    assert s.wiki_api_url("commonswiki") == "https://commons.wikimedia.org/w/api.php"


def test_the_default_model_id_is_defined_once_and_resolved_in_one_function():
    """``DEFAULT_MODEL`` lives in config; every other module asks :func:`chosen_model_id`."""
    import re
    from pathlib import Path

    from wikivis.config import DEFAULT_MODEL, chosen_model_id

    settings = load_settings(env={})
    assert settings.model == DEFAULT_MODEL == chosen_model_id(settings)
    assert chosen_model_id(settings, "resnet50") == "resnet50"
    assert chosen_model_id(settings.replace(model="resnet50")) == "resnet50"
    root = Path(__file__).resolve().parents[2]
    fallback = re.compile(r"model_id or settings\.model|=\s*\"efficientnet-lite0\"")
    copies = [f"{p.relative_to(root)}:{n}" for d in ("wikivis", "plugins") for p in sorted((root / d).rglob("*.py"))
              for n, line in enumerate(p.read_text("utf-8").splitlines(), 1) if fallback.search(line)]
    # the constant and the one fallback, both in config.py
    assert [c.split(":")[0] for c in copies] == ["wikivis/config.py", "wikivis/config.py"], copies
