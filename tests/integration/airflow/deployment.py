"""A distributed Airflow deployment on this machine, as separate processes: the API server,
the scheduler, the DAG processor and the triggerer on a PostgreSQL metadata database, and two
Celery workers on Redis — ``default`` and ``gpu`` (the compose file's workers).  The settings
are the ones ``docker-compose.yml`` passes (CeleryExecutor, PostgreSQL result backend, the
execution API URL, one JWT secret), with loopback addresses.

Every process gets its own session (process group), so :meth:`Deployment.stop` ends each one
and its children by id; the databases it created are dropped and its Redis database flushed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.dags import airflow_env

#: a Redis database of its own (the loopback Redis is shared with other tests)
REDIS_DB = 13
STARTUP_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Deployment:
    home: Path
    pg_server_url: str  # postgresql://user@host:port (no database)
    redis_url: str  # redis://host:port (no database)
    wikivis_env: dict[str, str]
    #: Airflow settings of the test on top of the compose file's (e.g. short heartbeat timeouts)
    airflow_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    killed: dict[str, subprocess.Popen] = field(default_factory=dict)
    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    # ------------------------------------------------------------------ set-up
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_db(self) -> str:
        return f"wikivis_af_{self.tag}"

    @property
    def catalog_db(self) -> str:
        return f"wikivis_cat_{self.tag}"

    def env(self, **extra: str) -> dict[str, str]:
        pg = self.pg_server_url.removeprefix("postgresql://")
        passwords = self.home / "passwords.json"
        env = {
            **os.environ,
            **self.wikivis_env,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_env.DAGS_FOLDER),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(airflow_env.PLUGINS_FOLDER),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}/{self.metadata_db}",
            "AIRFLOW__CELERY__BROKER_URL": f"{self.redis_url}/{REDIS_DB}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{pg}/{self.metadata_db}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
            "AIRFLOW__API__SECRET_KEY": self._secret("api"),
            "AIRFLOW__CORE__FERNET_KEY": "",
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{airflow_env.ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            # only the runs the test asks for: no scheduled interval of "now" against the mirror
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONPATH": os.pathsep.join([str(airflow_env.REPO), str(airflow_env.PLUGINS_FOLDER),
                                           os.environ.get("PYTHONPATH", "")]),
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
        env.update(self.airflow_env)
        env.update(extra)
        return env

    def _secret(self, name: str) -> str:
        path = self.home / f".{name}-secret"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
        return path.read_text()

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.pg_server_url}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create_databases(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({airflow_env.ADMIN_USER: airflow_env.ADMIN_PASSWORD}))
        for db in (self.metadata_db, self.catalog_db):
            self._admin(f'CREATE DATABASE "{db}"')
        import redis

        redis.Redis.from_url(f"{self.redis_url}/{REDIS_DB}").flushdb()

    def airflow(self, *args: str, timeout: float = 300) -> str:
        """Run one ``airflow`` CLI command against the deployment; its output, or an error."""
        result = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env(), capture_output=True,
                                text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def migrate(self) -> None:
        from wikivis_airflow.defaults import POOLS

        self.airflow("db", "migrate", timeout=600)
        for name, (slots, description) in POOLS.items():
            self.airflow("pools", "set", name, str(slots), description)

    # ------------------------------------------------------------------ processes
    def start(self, name: str, *args: str, **env: str) -> None:
        log = (self.home / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args], env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_all(self) -> None:
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1")
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")
        self.start("triggerer", "triggerer")
        self.start_worker("worker-default", "default", "cpu")
        # the GPU worker runs one task at a time in its main process (pool "solo", as in
        # docker-compose.yml): a prefork pool's children are daemonic, and a daemonic process may
        # not start the embedding's DataLoader workers
        self.start_worker("worker-gpu", "gpu", "gpu", concurrency=1, AIRFLOW__CELERY__POOL="solo")
        self.wait_until_up()

    def start_worker(self, name: str, queue: str, hostname: str, concurrency: int = 2, **env: str) -> None:
        """A Celery worker serving ``queue`` that names itself ``worker_names.<hostname>()`` on
        the task instances it runs."""
        self.start(name, "celery", "worker", "--queues", queue, "--concurrency", str(concurrency),
                   "--celery-hostname", f"{name}-{self.tag}@%h", "--skip-serve-logs",
                   AIRFLOW__CORE__HOSTNAME_CALLABLE=f"tests.integration.airflow.worker_names.{hostname}", **env)

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` and every process below it, as a machine dying would: its process
        group, and the task runners, which the task supervisor puts in groups of their own.
        It no longer counts as a process that must stay alive."""
        import psutil

        process = self.processes.pop(name)
        tree = psutil.Process(process.pid).children(recursive=True)
        os.killpg(process.pid, signal.SIGKILL)
        for child in tree:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        process.wait()
        self.killed[name] = process

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                    health = json.load(response)
                if (health.get("scheduler", {}).get("status") == "healthy"
                        and health.get("triggerer", {}).get("status") == "healthy"):
                    return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(1)
        raise RuntimeError(f"the deployment did not come up within {STARTUP_TIMEOUT_S} s:\n"
                           + "\n".join(f"--- {n}\n{self.log_tail(n, 1500)}" for n in self.processes))

    def stop(self) -> None:
        """SIGTERM each process group we started, then SIGKILL what is left; drop our databases."""
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        for process in self.processes.values():  # children (celery forks, gunicorn) of each group
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for db in (self.metadata_db, self.catalog_db):
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            except Exception:  # best effort; the names are unique per run
                pass

    # ------------------------------------------------------------------ API
    def token(self) -> str:
        body = json.dumps({"username": airflow_env.ADMIN_USER, "password": airflow_env.ADMIN_PASSWORD}).encode()
        request = urllib.request.Request(f"{self.url}/auth/token", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.load(response)["access_token"])

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/api/v2{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def metadata(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(f"{self.pg_server_url}/{self.metadata_db}") as conn:
            return list(conn.execute(sql, params).fetchall())
