from __future__ import annotations

import pytest

from wikivis.media.licences import is_non_free, licence_problem, robots_opt_out


@pytest.mark.parametrize(
    ("name", "non_free", "expected"),
    [
        ("CC BY-SA 4.0", None, None),
        ("CC0", "", None),
        ("Public domain", None, None),
        ("GFDL", "false", None),
        ("Copyrighted free use", None, None),
        ("Fair use", None, "not_free"),
        ("Non-free media", None, "not_free"),
        ("CC BY-NC-SA 2.0", None, "not_free"),
        ("CC BY-ND 4.0", None, "not_free"),
        ("All rights reserved", None, "not_free"),
        ("CC BY 4.0", "true", "not_free"),
        ("", None, "licence_unknown"),
        (None, None, "licence_unknown"),
    ],
)
def test_licence_problem(name, non_free, expected):
    assert licence_problem(name, non_free) == expected


def test_is_non_free_column():
    assert is_non_free({"NonFree": "true"})
    assert is_non_free({"LicenseShortName": "Fair use"})
    assert not is_non_free({"LicenseShortName": "CC BY-SA 3.0"})
    assert not is_non_free({})  # unknown is not "non-free"; the fetcher skips it separately


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["noai"], "noai"),
        (["noimageai, nofollow"], "noimageai"),
        (["NoIndex"], "noindex"),
        (["googlebot: noindex"], None),  # addressed to another agent
        (["wikivis: noai"], "noai"),
        (["nofollow", "noarchive"], None),
        (["unavailable_after: 25 Jun 2010 15:00:00 PST, noimageindex"], "noimageindex"),
        ([], None),
    ],
)
def test_robots_opt_out(values, expected):
    assert robots_opt_out(values) == expected
