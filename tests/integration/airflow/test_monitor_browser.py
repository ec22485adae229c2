"""The monitoring page in headless Chromium, served by a real ``airflow api-server``, with
data from real runs of the nightly's stages on the local mirror (see conftest.py).

Needs Debian's ``chromium`` (``/usr/bin/chromium``; ``apt-get install -y chromium``) and the
``playwright`` Python package (its own browser downloads are not used).  The logged-in test
saves ``docs/img/monitoring.png``, the screenshot the README shows.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request

import pytest

from tests.dags import airflow_env
from wikivis.testing import require_service

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
SCREENSHOT = airflow_env.REPO / "docs" / "img" / "monitoring.png"
CHARTS = ("chart-durations", "chart-gates", "chart-freshness", "chart-throughput", "chart-index-recall",
          "chart-index-size")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        require_service(f"headless Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def test_anonymous_visitors_get_401_and_health_stays_public(api_server, browser):
    page = browser.new_page()
    response = page.goto(f"{api_server.url}/wikivis/")
    assert response is not None
    assert response.status == 401
    assert "Not authenticated" in page.content()
    page.close()
    with pytest.raises(urllib.error.HTTPError) as answer:  # degraded (a gate failed) → 503
        urllib.request.urlopen(f"{api_server.url}/wikivis/health", timeout=10)
    assert answer.value.code == 503
    assert json.load(answer.value) == {"status": "degraded"}


def _log_in(context, url: str):
    """Airflow's own login form (simple auth manager), as a person would."""
    page = context.new_page()
    page.goto(f"{url}/auth/login")
    page.get_by_label("Username").fill(airflow_env.ADMIN_USER)
    page.get_by_label("Password").fill(airflow_env.ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("document.cookie.includes('_token=')", timeout=30_000)
    return page


@pytest.fixture(scope="module")
def logged_in(api_server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = _log_in(context, api_server.url)
    yield page
    context.close()


def test_the_page_sits_in_airflows_navigation_behind_its_login(api_server, logged_in):
    page = logged_in
    page.goto(f"{api_server.url}/plugin/wikivis")
    frame = page.frame_locator("iframe")
    frame.locator("#health").wait_for(timeout=60_000)  # the monitor, inside Airflow's frame, via its cookie
    assert frame.locator("#health").inner_text() == "degraded"
    page.get_by_role("button", name=re.compile("browse", re.I)).first.click()
    assert page.get_by_role("menuitem", name=re.compile("wikivis monitor")).count() >= 1


def test_logged_in_user_sees_charts_of_the_real_runs_and_the_failing_reason(api_server, logged_in):
    page = logged_in
    response = page.goto(f"{api_server.url}/wikivis/")
    assert response is not None
    assert response.status == 200
    assert page.locator("#health").inner_text() == "degraded"
    for chart in CHARTS:  # each chart is drawn, with data marks, at a real size
        svg = page.locator(f"svg#{chart}")
        assert svg.count() == 1, chart
        box = svg.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, (chart, box)
        assert svg.locator(".mark").count() > 0, chart
    # three real nightly runs and the failed one: a stage-duration bar per run, real stage names
    durations = page.locator("svg#chart-durations .mark")
    stages = {durations.nth(i).get_attribute("data-series") for i in range(durations.count())}
    assert {"ingest", "events", "metadata", "media", "embed", "build_index", "publish"} <= stages
    tips = " ".join(page.locator("svg#chart-durations title").all_text_contents())
    for run in api_server.seeded.runs:
        assert run in tips
    assert page.locator("svg#chart-gates .mark[data-series=fail]").count() == 1
    assert page.locator("svg#chart-throughput .ceiling").count() == 1
    # politeness: every Wikimedia client the runs used
    totals = page.locator("#politeness-totals").inner_text()
    for client in ("dumps", "eventstreams", "action_api", "upload"):
        assert client in totals, client
    failing = page.locator("#failing-gates + table")
    assert "dangling_files" in failing.inner_text()
    assert api_server.seeded.failing_reason in failing.inner_text()
    outcomes = {t.strip() for t in page.locator("#gates-table tbody tr td:nth-child(5)").all_inner_texts()}
    assert {"fail", "pass"} <= outcomes
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1250})
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert SCREENSHOT.stat().st_size > 10_000
    page.get_by_role("link", name="report").first.click()
    assert api_server.seeded.ok_run in page.content()


def test_filters_and_pages_keep_the_tables_short(api_server, logged_in):
    page = logged_in
    page.goto(f"{api_server.url}/wikivis/")
    page.locator("form.filter select[name=stage]").select_option("ingest")
    page.locator("form.filter input[name=run]").fill(api_server.seeded.failed_run[-16:])
    page.get_by_role("button", name="filter").click()
    page.wait_for_url(re.compile(r"stage=ingest"))
    rows = page.locator("#gates-table tbody tr")
    assert rows.count() == 2  # the failed run's two tables checks
    assert api_server.seeded.failed_run in rows.first.inner_text()
    assert page.locator("#stage-runs-table tbody tr").count() == 1


def test_the_airflow_ui_lists_the_monitor_as_a_nav_entry(api_server):
    request = urllib.request.Request(f"{api_server.url}/api/v2/plugins",
                                     headers={"Authorization": f"Bearer {api_server.token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        plugins = {p["name"]: p for p in json.load(response)["plugins"]}
    views = plugins["wikivis"]["external_views"]
    assert [(v["href"], v["url_route"]) for v in views] == [("/wikivis/", "wikivis")]
