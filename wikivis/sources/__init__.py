"""One client per external source.  No client imports Airflow; each takes an injectable
session or engine, pages with generators and declares its retry policy as data."""
