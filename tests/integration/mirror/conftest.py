"""Helpers for the mirror's endpoint tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

GOOD_UA = "wikivis-tests/1.0 (https://example.org/wikivis; tests@example.org) python-requests/2"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["User-Agent"] = GOOD_UA
    yield session
    session.close()


def sse_events(response: requests.Response) -> Iterator[dict[str, Any]]:
    """Parse an SSE body into {"event", "id", "data"} dicts (comments skipped)."""
    fields: dict[str, str] = {}
    for raw in response.iter_lines(decode_unicode=False):
        line = raw.decode("utf-8")
        if line == "":
            if "data" in fields:
                yield {"event": fields.get("event"), "id": json.loads(fields["id"]), "data": json.loads(fields["data"])}
            fields = {}
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            fields[key] = value[1:] if value.startswith(" ") else value
