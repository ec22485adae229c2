"""Fixtures of the caption tests: where the real-world wikitext lives (never copied here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def realworld_dir() -> Path | None:
    """``$WIKIVIS_REALWORLD_DATA``, else ``<repo>/../shared/realworld-data`` (a checkout
    beside ``shared/``), else two levels up (a git worktree under ``wt/``)."""
    candidates = [os.environ.get("WIKIVIS_REALWORLD_DATA", "")]
    candidates += [str(REPO.parent / "shared" / "realworld-data"), str(REPO.parent.parent / "shared" / "realworld-data")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "wikitext").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def realworld_wikitext() -> Path:
    found = realworld_dir()
    if found is None:
        pytest.skip("real-world wikitext not found (set WIKIVIS_REALWORLD_DATA or put shared/realworld-data beside the repo)")
    return found / "wikitext"
