"""Fixtures shared by the unit tests of several packages.

The in-process Action API and upload fakes (:mod:`tests.unit.commons_fakes`) serve the tests of
``sources.commons``, ``media`` and ``cli.commons``, and the tiny hand-made replica wiki
(:mod:`tests.unit.replica_tables`) those of ``sources.replicas``, ``cli.replica`` and, from
the integration tests, ``mirror.replica_loader``; so both are registered here, above the
package directories that mirror ``wikivis/``."""

from tests.unit.commons_fakes import _fake_file_class, api_client, fake_api, fake_upload
from tests.unit.replica_tables import replica_settings, tiny

__all__ = ["_fake_file_class", "api_client", "fake_api", "fake_upload", "replica_settings", "tiny"]
