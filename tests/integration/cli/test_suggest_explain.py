"""``wikivis wikidata ingest``, ``wikivis eval suggestions`` and ``wikivis suggest --explain``
through the real entry point, on a lake ingested from the mirror's dumps."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wikivis.lake import Lake

pytestmark = pytest.mark.integration


def wikivis(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, env=env)


def test_ingest_evaluate_and_explain(mirror, sample_wiki, tmp_path) -> None:
    from wikivis.dumps.ingest import ingest

    settings = mirror.settings(home=tmp_path / "home")
    lake = Lake.from_settings(settings)
    snapshot = ingest(settings, sample_wiki.wiki, lake=lake).snapshot
    env = {**os.environ, "WIKIVIS_HOME": str(settings.home), "WIKIVIS_CONTACT": "wikivis tests <tests@example.org>",
           "WIKIVIS_GATE_MAX_SNAPSHOT_AGE_DAYS": "0"}
    for field in ("dumps_url", "commons_api_url", "wiki_api_url_template", "wikidata_api_url", "wdqs_url"):
        env[f"WIKIVIS_{field.upper()}"] = getattr(settings, field)

    done = wikivis(env, "--json", "wikidata", "ingest", "--wiki", sample_wiki.wiki)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["snapshot"] == snapshot and summary["gate"] == "pass" and summary["rows"]["item_images"] > 0

    done = wikivis(env, "eval", "suggestions", "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert set(metrics["methods"]) == {"rules", "visrank", "combined"}
    assert metrics["notes"] and "no visual candidates" in metrics["notes"][0]  # nothing embedded here
    assert metrics["methods"]["combined"]["coverage"] >= metrics["methods"]["rules"]["coverage"]

    unillustrated = next(r["page_title"] for r in lake.read("pages", sample_wiki.wiki, snapshot).to_pylist()
                         if not r["is_redirect"] and r["page_id"] not in
                         set(lake.read("article_images", sample_wiki.wiki, snapshot).column("page_id").to_pylist()))
    done = wikivis(env, "suggest", unillustrated, "--explain", "-k", "5")
    assert done.returncode == 0, done.stderr
    assert "confidence" in done.stdout or "no candidate" in done.stdout
    done = wikivis(env, "suggest", "No such article at all", "--explain")
    assert done.returncode == 5 and "unknown article" in done.stderr and "Traceback" not in done.stderr
