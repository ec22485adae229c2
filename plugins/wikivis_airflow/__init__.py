"""Airflow adapters for wikivis: hooks, the dump sensor and trigger, callbacks, DAG defaults
and the monitoring plugin.  ``wikivis`` itself never imports Airflow; this package is the
only place where the two meet (besides the thin DAG files in ``dags/``)."""
