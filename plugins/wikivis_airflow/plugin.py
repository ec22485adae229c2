"""The Airflow 3 plugin: the monitoring app under ``/wikivis`` and its entry in the UI's nav.

``fastapi_apps`` mounts :func:`wikivis_airflow.monitor.create_app` on the API server;
``external_views`` with a ``url_route`` makes the Airflow UI show the page inside its own
frame (Browse → wikivis), where the UI's ``_token`` cookie authenticates it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from wikivis_airflow.monitor import create_app

URL_PREFIX = "/wikivis"


class WikivisPlugin(AirflowPlugin):
    name = "wikivis"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "wikivis monitor"}]
    external_views = [
        {
            "name": "wikivis monitor",
            "href": f"{URL_PREFIX}/",
            "url_route": "wikivis",
            "destination": "nav",
            "category": "browse",
        }
    ]
