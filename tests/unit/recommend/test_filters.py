from __future__ import annotations

import numpy as np

from wikivis.gates.filters import icon_threshold
from wikivis.recommend.filters import ImageFilter, filter_reasons
from wikivis.recommend.synthetic import ICON_FILES, NON_FREE_FILE, OVERUSED_FILE, fake_sha1


def test_threshold_grows_with_log_of_wiki_size() -> None:
    assert icon_threshold(300) == 3.75
    assert icon_threshold(50_000) == 15
    assert icon_threshold(6_900_000) > icon_threshold(500_000) > 15


def test_filters_remove_icons_placeholders_and_non_free(synth) -> None:
    data = synth.data
    f = ImageFilter.for_data(data)
    assert f.reason(fake_sha1(OVERUSED_FILE)) == "icon"  # innocent name, linked from ~30% of articles
    assert f.reason(fake_sha1(ICON_FILES[0])) in {"icon", "name:flag"}
    assert f.reason(fake_sha1(NON_FREE_FILE)) == "non_free"
    unused = next(s for s in data.item_ids if data.item_usage.get(s, 0) == 0 and f.reason(s) is None)
    assert f.allowed(unused)
    reasons = filter_reasons(data, f)
    assert reasons["icon"] >= 1
    assert reasons["non_free"] == 1


def test_names_are_checked_per_image_and_counted(synth) -> None:
    f = ImageFilter(
        usage={"a": 1, "b": 1, "c": 1},
        files_of_sha1={"a": ["Flag_of_X.png"], "b": ["Flag_of_Y.png", "Parade.jpg"], "c": ["Map_room.jpg"]},
        threshold=10,
        allow_names=frozenset({"Map_room.jpg"}),
    )
    assert f.reason("a") == "name:flag"
    assert f.reason("b") is None  # one clean name is enough
    assert f.reason("c") is None  # allow-listed false positive
    assert f.reason("zzz") == "no_file"
    assert f.mask(["a", "b", "c", "zzz"]).tolist() == [False, True, True, False]
    assert f.drop_counts == {"name": 1, "no_file": 1}
    assert np.asarray(f.mask([])).size == 0
