"""Caption coverage on the monitoring page."""

from __future__ import annotations

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from tests.dags.monitor_seed import seed_home

pytestmark = pytest.mark.dags


def test_page_and_status_show_caption_coverage(settings):
    from wikivis_airflow.monitor import create_app, require_user

    from wikivis.captions.build import ExtractStats, collect
    from wikivis.datasets import schema
    from wikivis.lake import Lake

    seed_home(settings)
    lake = Lake.from_settings(settings)
    images = pa.Table.from_pylist(
        [{"wiki": "samplewiki", "page_id": p, "page_namespace": 0, "page_title": f"P{p}", "file_name": f, "is_lead": False}
         for p, f in [(1, "A.jpg"), (2, "B.jpg"), (3, "C.jpg"), (4, "D.jpg")]],
        schema=schema("article_images"),
    )
    lake.write("article_images", "samplewiki", "20261103", images)
    texts = [(1, "[[File:A.jpg|thumb|alt=A red car|A car]]"), (2, "[[File:B.jpg|thumb|alt=image]]")]
    lake.write("article_image_captions", "samplewiki", "20261103", collect("samplewiki", texts, ExtractStats()))
    app = create_app(lambda: settings)
    app.dependency_overrides[require_user] = lambda: "tester"
    with TestClient(app) as client:
        (row,) = client.get("/api/status").json()["captions"]
        page = client.get("/").text
    assert (row["wiki"], row["images"], row["captioned"], row["with_alt"], row["bad_alt"]) == ("samplewiki", 4, 1, 2, 1)
    section = page[page.index('id="captions"'):]
    assert "<td>samplewiki</td><td>20261103</td><td>4</td><td>25.0%</td><td>50.0%</td><td>1</td>" in section
