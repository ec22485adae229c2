"""Fixtures shared by the unit tests of several packages.

The in-process Action API and upload fakes (:mod:`tests.unit.commons_fakes`) serve the tests of
``sources.commons``, ``media`` and ``cli.commons``, so they are registered here, above the
package directories that mirror ``wikivis/``."""

from tests.unit.commons_fakes import _fake_file_class, api_client, fake_api, fake_upload

__all__ = ["_fake_file_class", "api_client", "fake_api", "fake_upload"]
