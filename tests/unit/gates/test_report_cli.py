"""Quality report (HTML + Markdown) and the `gates check` / `report` commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from tests.unit.gates.conftest import NOW, PREVIOUS, SNAPSHOT, WIKI, all_file_names, article_images_table, files_table
from tests.unit.gates.test_stages import fill_lake
from wikivis.catalog import Catalog
from wikivis.datasets import schema
from wikivis.errors import GateFailed, NotFoundError
from wikivis.gates.report import write_report
from wikivis.gates.stages import gate_tables


def file_metadata(names: list[str]) -> pa.Table:
    licences = ["CC BY-SA 4.0", "CC BY-SA 4.0", "Public domain", "CC BY 2.0"]
    rows = [{"file_name": n, "sha1": f"{i:040x}", "licence_short_name": licences[i % 4], "non_free": False}
            for i, n in enumerate(names)]
    return pa.Table.from_pylist(rows, schema=schema("file_metadata"))


def test_report_has_every_section(settings, lake):
    fill_lake(lake)
    lake.write("file_metadata", "commonswiki", PREVIOUS, file_metadata(all_file_names(article_images_table())))
    catalog = Catalog(settings.resolved_catalog_url)
    run_id = catalog.start_run("pipeline", WIKI)
    gate_tables(settings, lake, WIKI, SNAPSHOT, catalog=catalog, run_id=run_id, now=NOW)
    shrunk = article_images_table().slice(0, 30)
    lake.write("article_images", WIKI, "20240302", shrunk)
    with pytest.raises(GateFailed):
        gate_tables(settings, lake, WIKI, "20240302", datasets=("article_images",), catalog=catalog, run_id=run_id, now=NOW)
    catalog.finish_run(run_id, "failed", "drift")

    html_path, md_path = write_report(settings, catalog, run_id)
    catalog.dispose()
    assert html_path == settings.reports_root / run_id / "report.html"
    md = md_path.read_text()
    for heading in ("## Gate results", "## Failure reasons", "## Row counts across snapshots", "## Drift", "## Licence mix"):
        assert heading in md
    assert "| article_images | rows | 120 | 30 | -75.0% | fail |" in md
    assert "| article_images | overused_image | 1 |" in md
    assert "| CC BY-SA 4.0 | 41 |" in md
    assert "article_images@samplewiki" in md
    assert (md_path.parent / "plots" / "row_counts.svg").is_file()
    assert "![Row counts across snapshots](plots/row_counts.svg)" in md
    page = html_path.read_text()
    assert page.count("<svg") == 3
    assert "30 row(s) vs 120 in snapshot 20240301 (-75.0%; bound ±50%)" in page


@pytest.fixture
def cli(monkeypatch):
    """Invoke the `wikivis` app in-process with fresh global options each time."""
    from typer.testing import CliRunner

    from wikivis.cli import app
    from wikivis.cli._common import STATE

    def invoke(home, *args: str):
        monkeypatch.setattr(STATE, "_settings", None)
        monkeypatch.setattr(STATE, "overrides", {})
        monkeypatch.setattr(STATE, "as_json", False)
        return CliRunner().invoke(app, ["--home", str(home), *args])

    return invoke


def test_cli_gates_check_and_report(settings, lake, cli):
    today = datetime.now(UTC)
    snap, prev = today.strftime("%Y%m%d"), (today - timedelta(days=7)).strftime("%Y%m%d")
    images = article_images_table()
    lake.write("article_images", WIKI, prev, images)
    lake.write("article_images", WIKI, snap, images)
    lake.write("files", "commonswiki", prev, files_table(all_file_names(images)))

    ok = cli(settings.home, "gates", "check", "--dataset", "article_images", "--wiki", WIKI)
    assert ok.exit_code == 0, ok.output
    assert "gate 'tables' (samplewiki, snapshot " in ok.output
    run_id = ok.output.split()[1]

    shown = cli(settings.home, "report", run_id)
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"# wikivis quality report — run {run_id}")
    as_html = cli(settings.home, "report", run_id, "--html")
    assert as_html.output.strip().endswith(f"{run_id}/report.html")

    lake.write("article_images", WIKI, snap, pa.concat_tables([images, images.slice(0, 1)]))
    failed = cli(settings.home, "gates", "check", "--dataset", "article_images", "--wiki", WIKI, "--snapshot", snap)
    assert isinstance(failed.exception, GateFailed)
    assert failed.exception.exit_code == 6
    assert "article_images: check 'unique' failed" in str(failed.exception)
    assert "[fail] article_images: check 'unique' failed" in failed.output  # the summary is printed first
    missing = cli(settings.home, "gates", "check", "--dataset", "pages", "--wiki", WIKI)
    assert isinstance(missing.exception, NotFoundError)
