"""Fixtures shared by the integration tests of several packages.

MariaDB on loopback with replica databases loaded by the replica loader
(:mod:`tests.integration.replica_databases`) serves the tests of ``sources.replicas``,
``sources.mysql_wire`` and the replica ingest stage."""

from tests.integration.replica_databases import db_prefix, load, mariadb, mariadb_settings

__all__ = ["db_prefix", "load", "mariadb", "mariadb_settings"]
