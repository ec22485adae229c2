"""The monitoring app (plugins/wikivis_airflow/monitor.py) through FastAPI's TestClient.

Authentication is real in the access tests (Airflow's simple auth manager signs the token;
the app validates it with the auth manager); the content tests override the user
dependency.  The same page in a real browser against a real ``airflow api-server`` is in
tests/integration/airflow/test_monitor_browser.py.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.dags.monitor_seed import seed_home

pytestmark = pytest.mark.dags


@pytest.fixture
def seeded(settings):
    return seed_home(settings)


@pytest.fixture
def app(settings):
    from wikivis_airflow.monitor import create_app

    return create_app(lambda: settings)


@pytest.fixture
def logged_in(app):
    from wikivis_airflow.monitor import require_user

    app.dependency_overrides[require_user] = lambda: "tester"
    with TestClient(app) as client:
        yield client


def test_page_shows_stages_gates_failing_reason_freshness_index_and_politeness(logged_in, seeded):
    page = logged_in.get("/").text
    failing = page[page.index('id="failing-gates"'):page.index('<h2 id="stages">')]
    assert "dangling_files" in failing
    assert "12.5% of article_images rows name a missing file" in failing
    assert seeded.failed_run in failing
    assert 'id="health">degraded' in page
    assert f'href="/reports/{seeded.ok_run}/report.html"' in page  # only the run with a report links one
    assert f"/reports/{seeded.failed_run}/" not in page
    assert "<td>20261101</td><td>20261102</td>" in page  # published vs newest snapshot
    assert "v-20261101" in page
    assert "0.97" in page
    assert "<td>metadata</td><td>all</td><td>4</td><td>1</td><td>1</td>" in page  # requests, retries, 429s


def test_status_json_carries_the_same_data(logged_in, seeded):
    status = logged_in.get("/api/status").json()
    assert [g["gate"] for g in status["failing_gates"]] == ["dangling_files"]
    assert status["failing_gates"][0]["message"] == seeded.failing_reason
    stages = {s["stage"]: s for s in status["stages"]}
    assert set(stages) == {"wikivis_nightly", "ingest", "metadata", "media", "build_index", "gate_tables"}  # shards folded
    assert stages["gate_tables"]["last_status"] == "failed"
    assert stages["wikivis_nightly"]["last_status"] == "failed"
    assert stages["wikivis_nightly"]["last_success"] is not None
    assert [r["id"] for r in status["runs"]] == [seeded.failed_run, seeded.ok_run]  # parent runs only
    assert status["freshness"] == [
        {"dataset": "article_images", "wiki": "samplewiki", "current": "20261101", "latest": "20261102",
         "current_age_days": status["freshness"][0]["current_age_days"],
         "dump": "20261102", "events_until": "2026-11-02T00:00:00Z"}  # newest ingest, EventStreams checkpoint
    ]
    assert [(v["version"], v["recall"], v["n"]) for v in status["index_history"]] == [("20261101T010000Z-000001", 0.97, 1200)]
    totals = {t["client"]: t for t in status["http_totals"]}
    assert totals["dumps"]["retries"] == 2 and totals["upload"]["bytes"] == 50_000_000


def test_reports_are_served_and_paths_cannot_escape(logged_in, seeded, settings):
    assert "quality report 20261101" in logged_in.get(f"/reports/{seeded.ok_run}/report.html").text
    (settings.home / "secret.html").write_text("secret")
    for bad in ("..%2Fsecret.html", "..", "nope"):
        assert logged_in.get(f"/reports/{bad}/report.html").status_code == 404


def test_health_is_public_and_says_only_ok_or_degraded(app, seeded):
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}


def test_health_is_ok_on_an_empty_home(app):
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok"}


@pytest.fixture
def auth_manager(airflow_db):
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


def test_every_route_but_health_needs_an_airflow_token(app, seeded, auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = auth_manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    routes = ["/", "/api/status", f"/reports/{seeded.ok_run}/report.html"]
    with TestClient(app) as client:
        for route in routes:
            assert client.get(route).status_code == 401, route
            assert client.get(route, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403, route
            assert client.get(route, headers={"Authorization": f"Bearer {token}"}).status_code == 200, route
            client.cookies.set("_token", token)
            assert client.get(route).status_code == 200, route
            client.cookies.clear()


def _marks(page: str, chart_id: str) -> list[str]:
    import re

    svg = page[page.index(f'id="{chart_id}"'):]
    svg = svg[:svg.index("</svg>")]
    return re.findall(r'class="mark" data-series="([^"]+)"', svg)


def test_charts_draw_the_seeded_runs(logged_in, seeded):
    page = logged_in.get("/").text
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    durations = _marks(page, "chart-durations")
    assert sorted(set(durations)) == ["build_index", "gate_tables", "ingest", "media", "metadata"]
    assert sorted(_marks(page, "chart-gates")) == ["fail", "pass", "pass", "warn"]
    assert _marks(page, "chart-throughput") == ["all shards"]
    assert "20 Mbit/s" in page  # 50 MB by two shards in 20 s, under the dashed 25 Mbit/s ceiling
    assert 'class="ceiling"' in page and "policy ceiling: 25 Mbit/s" in page
    assert sorted(_marks(page, "chart-freshness")) == ["dump", "events", "latest", "published"]
    assert _marks(page, "chart-index-recall") == ["efficientnet-lite0"]
    assert _marks(page, "chart-index-size") == ["efficientnet-lite0"]


def test_tables_page_latest_first_and_filter_by_run_and_stage(logged_in, settings):
    from wikivis.catalog import Catalog

    catalog = Catalog(settings.resolved_catalog_url)
    for day in range(1, 31):
        run = f"wikivis_nightly__samplewiki__202611{day:02d}T000000Z"
        catalog.start_run("wikivis_nightly", "samplewiki", {}, run_id=run)
        for check in ("row_count", "dangling_files"):
            catalog.record_gate(run, "ingest", "article_images", check, "pass", {}, None)
        catalog.record_gate(run, "media", "media", "fetch_failures", "pass", {}, None)
        catalog.finish_run(run, "success")
    catalog.dispose()

    first = logged_in.get("/").text
    gates = first[first.index('id="gates-table"'):first.index("</table>", first.index('id="gates-table"'))]
    assert gates.count("<tr class=") == 20  # one page of 90 rows
    assert gates.index("20261130T") < gates.index("20261124T")  # newest first
    assert "page 1 of 5 · 90 rows" in first
    second = logged_in.get("/", params={"gates_page": 5}).text
    assert "page 5 of 5 · 90 rows" in second and "20261101T" in second
    assert "?gates_page=4" in second  # the "newer" link keeps the table's place

    filtered = logged_in.get("/", params={"run": "20261107", "stage": "media"}).text
    table = filtered[filtered.index('id="gates-table"'):filtered.index("</table>", filtered.index('id="gates-table"'))]
    assert table.count("<tr class=") == 1 and "fetch_failures" in table and "20261107" in table
    assert '<option value="media" selected>' in filtered
    runs = filtered[filtered.index('id="runs-table"'):filtered.index("</table>", filtered.index('id="runs-table"'))]
    assert runs.count("<tr class=") == 1


def test_health_is_not_degraded_by_a_try_that_airflow_retries(app, settings):
    """Item 8 of issue 15: a failed try of a stage (Airflow will retry it) is not a failed run."""
    from wikivis.catalog import Catalog

    catalog = Catalog(settings.resolved_catalog_url)
    run = "wikivis_nightly__samplewiki__20261203T000000Z"
    catalog.start_run("wikivis_nightly", "samplewiki", {}, run_id=run)
    catalog.start_run("stage:ingest", "samplewiki", {"parent": run}, run_id=f"{run}.ingest")
    catalog.finish_run(f"{run}.ingest", "failed", "ingest: HTTP 503")  # try 1 of 4
    catalog.dispose()
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok"}


def test_health_follows_the_newest_interval_not_a_later_backfill_of_an_old_date(app, settings):
    """Item 9 of issue 15: a red nightly of 20261203, then a green backfill of 20261101 — Airflow's
    own backfill of the nightly (same run kind), and the backfill DAG."""
    from wikivis.catalog import Catalog

    catalog = Catalog(settings.resolved_catalog_url)
    nightly = "wikivis_nightly__samplewiki__20261203T000000Z"
    for run, status in ((nightly, "failed"), ("wikivis_nightly__samplewiki__20261101T000000Z", "success"),
                        ("wikivis_backfill__samplewiki__20261101T000000Z", "success")):
        catalog.start_run(run.split("__")[0], "samplewiki", {}, run_id=run)
        for stage in ("ingest", "gate_tables"):
            catalog.start_run(f"stage:{stage}", "samplewiki", {"parent": run}, run_id=f"{run}.{stage}")
            catalog.finish_run(f"{run}.{stage}", status if stage == "gate_tables" else "success")
        catalog.finish_run(run, status, "gate_tables: too old" if status == "failed" else None)
    catalog.dispose()
    with TestClient(app) as client:
        response = client.get("/health")
    assert (response.status_code, response.json()) == (503, {"status": "degraded"})
