"""Locate the real Action API answers in ``<repo>/../shared/realworld-data/commons`` at test time.

They are never copied into the repository (provenance and licences: the README there).  A
test that needs them is skipped, with the reason, when the folder is absent.  The
``wptools__*.py`` files are Python modules holding a cached answer (``response = r'''…'''``);
they are read with :mod:`ast`, never imported or executed.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent


def realworld_root() -> Path | None:
    """``$WIKIVIS_REALWORLD_DATA``, else ``shared/realworld-data`` beside the repo (or beside
    any parent: git worktrees live one level deeper than the main checkout)."""
    env = os.environ.get("WIKIVIS_REALWORLD_DATA")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for parent in REPO.parents:
        candidate = parent / "shared" / "realworld-data"
        if candidate.is_dir():
            return candidate
    return None


def commons_dir() -> Path:
    root = realworld_root()
    if root is None or not (root / "commons").is_dir():
        pytest.skip("real Action API answers not found (../shared/realworld-data/commons is absent)")
    return root / "commons"


def api_answer_files() -> list[str]:
    """Names of every Action API answer there (``*.json`` and wptools ``*.py``), for parametrize."""
    root = realworld_root()
    if root is None or not (root / "commons").is_dir():
        return []
    return sorted(p.name for p in (root / "commons").iterdir() if p.suffix in (".json", ".py"))


def load_answer(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(decoded JSON answer, the query's parameters or ``{}``) of one file."""
    path = commons_dir() / name
    text = path.read_text("utf-8")
    if path.suffix == ".json":
        return json.loads(text), {}
    values: dict[str, Any] = {}
    for node in ast.parse(text, filename=str(path)).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            values[node.targets[0].id] = node.value.value
    params = dict(parse_qsl(urlsplit(values.get("query", "")).query))
    return json.loads(values["response"]), params
