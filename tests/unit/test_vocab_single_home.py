"""The shared vocabulary has one home (issue 18): ``wikivis/vocab.py``.

Scans the source of ``wikivis/`` and ``plugins/`` for a second definition of the snapshot-id,
dump-date and wiki-name patterns, for namespace numbers compared as literals or defined as
``NS_*`` constants, and for a temp-then-rename written by hand (``os.replace``/``os.rename``,
or a ``.tmp`` name). Each exception is listed below with its reason; an entry that no longer
matches anything fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VOCAB = "wikivis/vocab.py"

#: source patterns that define shared vocabulary (checked on each line's text)
PATTERNS = {
    "date/snapshot regex": re.compile(r"\\d\{8\}|\[0-9\]\{8\}|\\d\{6\}|\[0-9\]\{6\}"),
    "wiki/identifier regex": re.compile(r"\[a-z\]\[a-z0-9_\]"),
    "namespace literal": re.compile(r"""(?:namespace|\bns)\b["']?\)?\]?\s*(?:==|!=)\s*(?:0|2|4|6|14)\b"""),
    "NS_ constant": re.compile(r"^\s*NS_[A-Z]+\s*(?:,\s*NS_[A-Z]+\s*)*="),
    "temp file name": re.compile(r"""\.tmp\b[^*]"""),
}

#: (path, kind) → why this file may keep its own copy
ALLOWED: dict[tuple[str, str], str] = {
    ("wikivis/sources/dumps.py", "rename"): (
        "Range-resumed download: the partial file keeps a stable name across processes so a "
        "later run resumes it, and is renamed only after its checksum is verified"),
    ("wikivis/dumps/parser.py", "rename"): (
        "swaps a whole non-empty output directory (old one to a trash name first), which "
        "os.replace cannot do"),
    ("wikivis/index/store.py", "rename"): (
        "publishes a versioned index directory by renaming it into place (new path each time)"),
    ("wikivis/index/store.py", "date/snapshot regex"): (
        "index version names (v-<instant>-<counter>): an index's own naming, not a snapshot id"),
}


def _sources() -> list[Path]:
    return sorted(p for d in ("wikivis", "plugins") for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def _renames(tree: ast.AST) -> list[int]:
    """Lines calling ``os.replace``/``os.rename``, or ``<tmp>.replace(path)``/``.rename(path)``
    on a name that says it is a temporary (``tmp``, ``staging``, ``part``)."""
    lines = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in {"replace", "rename"}:
            continue
        owner = node.func.value
        if (isinstance(owner, ast.Name) and owner.id == "os") or (isinstance(owner, ast.Name) and re.search(r"tmp|staging|part", owner.id)
              and len(node.args) == 1 and not node.keywords):
            lines.append(node.lineno)
    return lines


def _findings() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel == VOCAB:
            continue
        text = path.read_text("utf-8")
        for lineno, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith(("r\"", "\"", "'")) else line
            for kind, pattern in PATTERNS.items():
                if pattern.search(code):
                    found.setdefault((rel, kind), []).append(f"{rel}:{lineno}: {line.strip()}")
        for lineno in _renames(ast.parse(text, rel)):
            found.setdefault((rel, "rename"), []).append(f"{rel}:{lineno}: temp-then-rename by hand")
    return found


def test_shared_patterns_are_defined_only_in_vocab() -> None:
    found = _findings()
    unexplained = [hit for key, hits in sorted(found.items()) if key not in ALLOWED for hit in hits]
    assert not unexplained, (
        "define or import these from wikivis.vocab (check_*, *_RE, NS_*, staged_path, "
        "atomic_write_bytes/text), or add an entry with its reason to ALLOWED:\n" + "\n".join(unexplained))


def test_every_exception_is_still_needed() -> None:
    found = _findings()
    stale = sorted(key for key in ALLOWED if key not in found)
    assert not stale, f"remove these ALLOWED entries, nothing matches them any more: {stale}"


@pytest.mark.parametrize("name", ["WIKI_RE", "NAME_RE", "DUMP_DATE_RE", "INSTANT_RE", "SNAPSHOT_RE"])
def test_vocab_defines_each_pattern_once(name: str) -> None:
    text = (ROOT / VOCAB).read_text("utf-8")
    assert len(re.findall(rf"^{name} = ", text, re.M)) == 1


def test_the_scan_sees_a_copy() -> None:
    """The patterns catch what they are for (a check that cannot fail checks nothing)."""
    assert PATTERNS["date/snapshot regex"].search('_RE = re.compile(r"\\d{8}")')
    assert PATTERNS["wiki/identifier regex"].search('re.compile(r"[a-z][a-z0-9_]{1,40}")')
    assert PATTERNS["namespace literal"].search('if row["page_namespace"] == 6:')
    assert PATTERNS["NS_ constant"].search("NS_MAIN, NS_FILE = 0, 6")
    assert _renames(ast.parse("import os\nos.replace(a, b)\ntmp.replace(path)\n")) == [2, 3]
