"""The monitoring page's data and rendering, without Airflow (the plugin in
``plugins/wikivis_airflow/monitor.py`` adds the routes and Airflow's authentication).

:mod:`.status` reads the catalog, the lake and the index into JSON-able data;
:mod:`.page` renders it as one HTML document with inline SVG charts (:mod:`.svg`), so the
page needs no JavaScript and nothing from the network.  Only the standard library is
imported here; the catalog and the lake are imported when a status is collected.
"""

from __future__ import annotations

from wikivis.monitoring.page import View, render_page
from wikivis.monitoring.status import HTTP_COUNTERS, collect_status, health, http_counters, stage_name, stage_summary

__all__ = ["HTTP_COUNTERS", "View", "collect_status", "health", "http_counters", "render_page", "stage_name",
           "stage_summary"]
