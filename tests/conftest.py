"""Suite-wide fixtures.  Tests never reach beyond 127.0.0.1."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# faiss's OpenMP threads spin-wait by default; on 2 shared cores that makes training several
# times slower.  This must be set before anything imports faiss.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

# the local Wikimedia mirror's fixtures (sample_wiki, mirror, mirror_factory)
pytest_plugins = [p for p in ("wikivis.mirror.pytest_plugin",) if importlib.util.find_spec(p.rsplit(".", 1)[0])]


def _loopback_only() -> None:
    """Refuse any TCP connection beyond the loopback range: tests speak the real protocols, but
    only to servers on 127.0.0.1 (the mirror, the databases) — never to Wikimedia."""
    import ipaddress
    import socket

    original = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host = str(address[0])
            try:
                loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise OSError(f"tests may only connect to loopback addresses, not {address!r}")
        return original(self, address)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign]


_loopback_only()


@pytest.fixture
def settings(tmp_path: Path):
    """Settings rooted in a fresh temporary home, local profile, no env influence."""
    from wikivis.config import load_settings

    return load_settings(env={}, home=tmp_path / "home", contact="wikivis tests <tests@example.org>")


@pytest.fixture
def lake(settings):
    from wikivis.lake import Lake

    return Lake.from_settings(settings)
