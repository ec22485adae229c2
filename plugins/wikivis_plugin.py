"""Registers the wikivis Airflow plugin (the only module Airflow loads from ``plugins/``).

Airflow imports every ``*.py`` under ``plugins/`` as a top-level module named after the
file, so the ``wikivis_airflow`` package is excluded in ``plugins/.airflowignore`` and
imported as a package from here instead (``plugins/`` is on ``sys.path`` under Airflow).
"""

from __future__ import annotations

from wikivis_airflow.plugin import WikivisPlugin

__all__ = ["WikivisPlugin"]
