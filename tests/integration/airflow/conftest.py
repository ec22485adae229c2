"""A real ``airflow api-server`` on a free loopback port, with the wikivis plugin loaded and a
wikivis home filled by real runs of the nightly's stages against the local mirror (three
dates, ~40 s on 2 cores, most of it loading the embedding model) plus one failed run, for
browser tests of the monitoring page."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dags import airflow_env
from tests.dags.monitor_seed import Seeded, seed_real_runs

airflow_env.configure()  # before anything imports airflow

STARTUP_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ApiServer:
    url: str
    seeded: Seeded

    def token(self) -> str:
        """A JWT from the simple auth manager's login endpoint (what the UI does)."""
        body = json.dumps({"username": airflow_env.ADMIN_USER, "password": airflow_env.ADMIN_PASSWORD}).encode()
        request = urllib.request.Request(f"{self.url}/auth/token", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.load(response)["access_token"])


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise RuntimeError(f"airflow api-server did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def api_server(tmp_path_factory, mirror, sample_wiki) -> Iterator[ApiServer]:
    airflow_env.migrate()
    home = tmp_path_factory.mktemp("wikivis-monitor-home")
    settings = mirror.settings(home=home)
    seeded = seed_real_runs(settings, list(sample_wiki.dates[:3]))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "api-server.log"
    env = {**os.environ, "WIKIVIS_HOME": str(home), "WIKIVIS_CONTACT": settings.contact}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(url, process, log)
        yield ApiServer(url=url, seeded=seeded)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
