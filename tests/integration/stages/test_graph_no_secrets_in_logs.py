"""A failing run never shows the catalog's password (issue 15, item 13).

The catalog lives on the loopback PostgreSQL behind a URL with a password (trust auth
ignores it; a URL from the environment keeps its own).  A run that fails — ``run_all`` on a
dump date the mirror does not have — then its reports, ``wikivis report`` for an unknown
run and ``wikivis status`` must not print, log or record that password anywhere: every log
record of the process at DEBUG, stdout/stderr of the CLI, the catalog's run messages, the
reports on disk.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from wikivis.testing import engine_or_skip, postgres_url

pytestmark = pytest.mark.integration


@pytest.fixture
def secret_catalog_url():
    base = sa.make_url(postgres_url())
    engine = engine_or_skip(base.render_as_string(hide_password=False), "PostgreSQL")
    secret = base.password or f"PgSecret{uuid.uuid4().hex[:6]}"
    schema = f"wv_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = base.set(password=secret, query={**base.query, "options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False), secret
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _cli(*args: str, env: dict[str, str]) -> str:
    code = "import sys; from wikivis.cli import main; sys.argv = ['wikivis', *sys.argv[1:]]; main()"
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, **env})
    return done.stdout + done.stderr


def test_no_log_message_or_record_of_a_failing_run_shows_the_password(
    mirror, tmp_path, caplog, capsys, secret_catalog_url
):
    from wikivis import orchestration
    from wikivis.catalog import Catalog
    from wikivis.errors import WikivisError
    from wikivis.stages.graph import run_all

    url, secret = secret_catalog_url
    settings = mirror.settings(home=tmp_path / "home", catalog_url=url)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WikivisError) as failed:
        run_all(settings, date="19990101", run_id="run__samplewiki__19990101T000000Z")
    logging.getLogger("wikivis.test").error("run failed", exc_info=failed.value)
    orchestration.write_reports(settings, ["run__samplewiki__19990101T000000Z", "run__nosuch__19990101T000000Z"])

    env = {"WIKIVIS_HOME": str(tmp_path / "home"), "WIKIVIS_CATALOG_URL": url}
    cli_output = _cli("report", "run__nosuch__19990101T000000Z", env=env) + _cli("status", env=env)
    assert "***@" in cli_output  # the message still names the catalog, password masked

    catalog = Catalog(url)
    records = [str(r) for r in catalog.runs(limit=100)] + [str(g) for g in catalog.gate_results(limit=100)]
    assert any(r for r in catalog.runs(limit=100) if r["status"] == "failed")
    catalog.dispose()
    captured = capsys.readouterr()
    reports = [p.read_text("utf-8", errors="replace") for p in settings.reports_root.rglob("*") if p.is_file()]
    everything = {"log": caplog.text, "stdout": captured.out, "stderr": captured.err, "cli": cli_output,
                  "catalog": "\n".join(records), "reports": "\n".join(reports)}
    for where, text in everything.items():
        assert secret not in text, where
