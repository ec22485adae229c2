"""The Airflow 3 plugin: the monitoring app under ``/wikivis`` and its entry in the UI's nav.

``fastapi_apps`` mounts :func:`wikivis_airflow.monitor.create_app` on the API server;
``external_views`` (Airflow 3's replacement for ``appbuilder_menu_items``: ``name``,
``href``, ``url_route``, ``destination``, ``category``, ``icon``) with a ``url_route`` makes
the Airflow UI list the page in its own navigation (Browse → wikivis monitor) and show it
inside its frame at ``/plugin/wikivis``, where the UI's ``_token`` cookie authenticates it.
The UI gets the entry from ``GET /api/v2/plugins`` (``tests/integration/airflow``).
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
            "icon": f"{URL_PREFIX}/icon.svg",
        }
    ]
