"""``wikivis wikidata item|sparql`` through the real entry point against the mirror:
output, --json, and one-line errors with their exit codes (no tracebacks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def wikivis(mirror, tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    settings = mirror.settings()
    env = {
        **os.environ,
        "WIKIVIS_HOME": str(tmp_path / "home"),
        "WIKIVIS_CONTACT": "wikivis tests <tests@example.org>",
        "WIKIVIS_WIKIDATA_API_URL": settings.wikidata_api_url,
        "WIKIVIS_WDQS_URL": settings.wdqs_url,
    }
    code = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)


def test_item_and_sparql(mirror, tmp_path) -> None:
    done = wikivis(mirror, tmp_path, "wikidata", "item", "Q1000007", "Q5113")
    assert done.returncode == 0, done.stderr
    assert "Q1000007  Little aqueduct" in done.stdout and "sitelinks: (none)" in done.stdout
    rq = tmp_path / "birds.rq"
    rq.write_text("SELECT ?item ?image WHERE { ?item wdt:P31 wd:Q5113 . ?item wdt:P18 ?image . } LIMIT 4\n")
    done = wikivis(mirror, tmp_path, "wikidata", "sparql", str(rq), "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["head"]["vars"] == ["item", "image"] and len(body["results"]["bindings"]) == 4
    done = wikivis(mirror, tmp_path, "wikidata", "sparql", str(rq))
    assert done.stdout.splitlines()[0] == "item\timage" and "(4 results)" in done.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("item", "Q999"), 5, "no item Q999"),
        (("item", "Q1; DROP"), 3, "not a Wikidata item id"),
        (("item", "Q5113", "--wiki", "samplewiki"), 5, "item Q5113 has no article on samplewiki (no sitelinks at all)"),
        (("sparql", "{bad}"), 3, "refused the query: variable predicate ?p"),
        (("sparql", "{missing}"), 3, "cannot read the query"),
    ],
)
def test_bad_input_is_one_line(mirror, tmp_path, args, code, message) -> None:
    bad = tmp_path / "bad.rq"
    bad.write_text("SELECT ?x WHERE { ?x ?p ?o }")
    args = tuple(a.format(bad=bad, missing=tmp_path / "nope.rq") for a in args)
    done = wikivis(mirror, tmp_path, "wikidata", *args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
