"""The monitoring page in headless Chromium, served by a real ``airflow api-server``.

Needs Debian's ``chromium`` (``/usr/bin/chromium``; ``apt-get install -y chromium``) and the
``playwright`` Python package (its own browser downloads are not used).
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from wikivis.testing import require_service

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]


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


def test_logged_in_user_sees_gate_results_and_the_failing_reason(api_server, browser):
    context = browser.new_context()
    context.add_cookies([{"name": "_token", "value": api_server.token(), "domain": urlsplit(api_server.url).hostname,
                          "path": "/"}])
    page = context.new_page()
    response = page.goto(f"{api_server.url}/wikivis/")
    assert response is not None
    assert response.status == 200
    assert page.locator("#health").inner_text() == "degraded"
    failing = page.locator("#failing-gates + table")
    assert "dangling_files" in failing.inner_text()
    assert api_server.seeded.failing_reason in failing.inner_text()
    gates = page.locator("#gates + table tbody tr")
    outcomes = sorted(gates.nth(i).locator("td").nth(4).inner_text() for i in range(gates.count()))
    assert outcomes == ["fail", "pass"]
    page.get_by_role("link", name="report").click()
    assert "quality report 20261101" in page.content()
    context.close()


def test_the_airflow_ui_lists_the_monitor_as_a_nav_entry(api_server):
    request = urllib.request.Request(f"{api_server.url}/api/v2/plugins",
                                     headers={"Authorization": f"Bearer {api_server.token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        plugins = {p["name"]: p for p in json.load(response)["plugins"]}
    views = plugins["wikivis"]["external_views"]
    assert [(v["href"], v["url_route"]) for v in views] == [("/wikivis/", "wikivis")]
