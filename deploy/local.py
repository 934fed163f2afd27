"""`make up`: the whole suite on one machine, no Docker.

Starts the embedded tansu broker and PostgreSQL (or uses ROADSHOW_DATABASE_URL),
creates one database per service, the topics, then each service as its own
process. Ctrl-C (or SIGTERM) stops what it started, by process id, and nothing
else. State lives in ./.roadshow (data, logs, the operator token).

Environment:
  ROADSHOW_DATABASE_URL  a PostgreSQL server to use instead of the embedded one
  ROADSHOW_KAFKA_PORT    broker port (default 9092)
  ROADSHOW_HTTP_PORT     first service port (default 8081; the next ones follow,
                         the console's last: 8084)
  ROADSHOW_HOME          state folder (default ./.roadshow)
  ROADSHOW_DB_PREFIX     database names are <prefix><service> (default roadshow_)
  ROADSHOW_REPLICAS      members per consumer group for matching and notification
                         (default 1; more start `worker` processes beside `serve`)
  ROADSHOW_BROKER_RECOVERY_SECONDS
                         after a broker restart, how long a service may take to
                         reconnect on its own before it is restarted (default 60)

A service process that dies is restarted with backoff (and said so on stderr),
instead of stopping the suite. So is the broker: its memory storage comes back
empty, so the topics are created again, every service's outbox is replayed
(`python -m services.<name> replay`) and each service must show it reconnected
(its relay published, its consumers handled messages again) within
ROADSHOW_BROKER_RECOVERY_SECONDS, or it is restarted.

E-mail to people goes to a local SMTP catcher (aiosmtpd) that keeps every message
in the maildir ./.roadshow/mail, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from shared.embedded import (
    EmbeddedBroker,
    EmbeddedPostgres,
    create_database,
    database_url,
    free_port,
    port_open,
    stop_process,
)
from shared.kafka import ensure_topics, wait_for_broker
from shared.personal_data import encode_key, new_key
from shared.terminal import EXIT_UNAVAILABLE, CommandFailed, finish, new_parser, run_command
from shared.topics import Topics

SERVICE_NAMES = ("registration", "matching", "notification")
HEALTHY_RUN_SECONDS = 60.0  # a process that ran this long before dying: backoff starts over
# Whose events each service consumes: after a broker restart, a service whose
# sources replayed something must show its consumers moving again.
CONSUMES = {"matching": ("registration",), "notification": ("registration", "matching")}


@dataclass
class Running:
    name: str
    url: str | None  # None: a `worker` replica with no HTTP API
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    restarts: int = 0
    restart_at: float | None = None
    started_at: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, name: str, url: str | None, command: list[str], env: dict[str, str]) -> Running:
        return cls(name, url, command, env, _spawn(command, env))

    @property
    def service(self) -> str:
        """The service this process runs (`matching-2` is a replica of matching)."""
        return self.name.split("-", 1)[0]

    def restart_now(self, why: str) -> None:
        stop_process(self.process)
        self.process = _spawn(self.command, self.env)
        self.restart_at = None
        self.started_at = time.monotonic()
        print(f"{self.name} restarted ({why}; pid {self.process.pid})", file=sys.stderr)

    def supervise(self, now: float) -> None:
        """Restart the process once it has died, after a backoff that grows per restart."""
        if self.restart_at is None:
            if self.process.poll() is None:
                return
            if now - self.started_at > HEALTHY_RUN_SECONDS:
                self.restarts = 0  # it had run well: a new failure starts the backoff over
            self.restarts += 1
            delay = min(30.0, 2.0 ** (self.restarts - 1))
            self.restart_at = now + delay
            print(
                f"{self.name} (pid {self.process.pid}) exited with {self.process.returncode};"
                f" restarting in {delay:.0f} s",
                file=sys.stderr,
            )
        elif now >= self.restart_at:
            self.process = _spawn(self.command, self.env)
            self.restart_at = None
            self.started_at = now
            print(f"{self.name} restarted (pid {self.process.pid})", file=sys.stderr)


@dataclass
class BrokerSupervisor:
    """Restarts the embedded broker when it dies and brings the suite back onto it:
    same port, topics created again, every outbox replayed; a service that has not
    reconnected within `recovery_seconds` is restarted."""

    broker: EmbeddedBroker
    recovery_seconds: float
    stopping: Callable[[], bool]  # Ctrl-C while waiting: give up waiting
    restarts: int = 0

    def supervise(self, running: list[Running]) -> None:
        process = self.broker.process
        if process is None or process.poll() is None:
            return
        print(
            f"broker (pid {process.pid}) exited with {process.returncode}; restarting it on"
            f" port {self.broker.port} (memory storage: topics and offsets are gone)",
            file=sys.stderr,
        )
        self.broker.stop()  # closes its log
        self._start_again()
        asyncio.run(_topics_again(self.broker.bootstrap_servers))
        before = {r.service: _progress(r.url) for r in running if r.url}
        replayed: dict[str, int] = {}
        for r in running:
            if r.url:
                # Said as each is done: registration's replay is what the others wait on.
                replayed[r.service] = replay_outbox(r)
                print(
                    f"broker     {r.service}: outbox rows replayed: {replayed[r.service]}",
                    file=sys.stderr,
                )
        pid = self.broker.process.pid if self.broker.process else "?"
        print(f"broker     back (pid {pid}); outbox rows replayed: {replayed}", file=sys.stderr)
        self._await_recovery(running, before, replayed)

    def _start_again(self) -> None:
        while True:
            self.restarts += 1
            try:
                self.broker.start()
                return
            except (RuntimeError, TimeoutError) as exc:  # the port not free yet, a slow start
                delay = min(30.0, 2.0 ** (self.restarts - 1))
                print(f"broker did not start ({exc}); again in {delay:.0f} s", file=sys.stderr)
                self.broker.stop()
                time.sleep(delay)

    def _await_recovery(
        self, running: list[Running], before: dict[str, Progress | None], replayed: dict[str, int]
    ) -> None:
        """Wait until every service shows progress (or needs none), supervising the
        processes meanwhile; restart those still stuck at the deadline."""
        deadline = time.monotonic() + self.recovery_seconds
        waiting = {r.service for r in running if r.url and _must_move(r.service, replayed)}
        t0 = time.monotonic()
        while waiting and time.monotonic() < deadline and not self.stopping():
            for r in running:
                r.supervise(time.monotonic())
                if r.url and r.service in waiting and _moved(r, before.get(r.service), replayed):
                    waiting.discard(r.service)
                    print(
                        f"{r.service} reconnected on its own after {time.monotonic() - t0:.1f} s",
                        file=sys.stderr,
                    )
            time.sleep(0.5)
        for r in running:
            if r.service in waiting and not self.stopping():
                r.restart_now(f"no progress {self.recovery_seconds:.0f} s after the broker restart")


async def _topics_again(bootstrap: str) -> None:
    await wait_for_broker(bootstrap)
    await ensure_topics(bootstrap, Topics().all(), compacted=Topics().compacted())


def replay_outbox(r: Running) -> int:
    """`python -m services.<name> replay`: every sent outbox row is published again."""
    done = subprocess.run(
        [*r.command[:3], "replay"], env=r.env, check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"{r.service} replay failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return 0
    found = re.search(r"(\d+) events marked", done.stdout)  # its last line says how many
    return int(found.group(1)) if found else 0


def _must_move(service: str, replayed: dict[str, int]) -> bool:
    """A service with something to publish, or whose sources publish something, must
    show it moves; one with nothing to do has nothing to show."""
    return replayed.get(service, 0) > 0 or _consumes_replayed(service, replayed)


def _consumes_replayed(service: str, replayed: dict[str, int]) -> bool:
    return any(replayed.get(source, 0) > 0 for source in CONSUMES.get(service, ()))


Progress = tuple[float, float]  # (messages its consumers finished with, events it published)


def _progress(url: str | None) -> Progress | None:
    """From the service's /metrics (counters of this process's life; None when it
    does not answer)."""
    if url is None:
        return None
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return None
    consumed = published = 0.0
    with contextlib.suppress(ValueError):
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "roadshow_consumer_messages_total":
                    consumed += sample.value
                elif sample.name == "roadshow_outbox_published_total":
                    published += sample.value
    return consumed, published


def _moved(r: Running, before: Progress | None, replayed: dict[str, int]) -> bool:
    """Its relay published again (if it had rows to replay) and its consumers handled
    messages again (if its sources replayed any): it is connected to the new broker."""
    now = _progress(r.url)
    if now is None or r.url is None or not _ready(r.url):
        return False
    was = before or (-1.0, -1.0)  # unknown before: any reading counts as a change
    consumed_ok = not _consumes_replayed(r.service, replayed) or now[0] != was[0]
    published_ok = replayed.get(r.service, 0) == 0 or now[1] != was[1]
    return consumed_ok and published_ok


def _ready(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,  # JSON logs go to .roadshow/logs/<name>.jsonl
        start_new_session=True,
    )


def available_services() -> list[str]:
    return [n for n in SERVICE_NAMES if importlib.util.find_spec(f"services.{n}")]


def service_env(
    name: str,
    *,
    db_url: str,
    bootstrap: str,
    port: int,
    home: Path,
    admin_token: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    prefix = name.upper() + "_"
    env = dict(os.environ)
    env.update(
        {
            f"{prefix}DATABASE_URL": db_url,
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            f"{prefix}HTTP_PORT": str(port),
            f"{prefix}LOG_FILE": str(home / "logs" / f"{name}.jsonl"),
            f"{prefix}ADMIN_TOKEN": admin_token,
            f"{prefix}ALLOW_PRIVATE_ENDPOINTS": "true",  # local receivers on loopback
        }
    )
    env.update({f"{prefix}{k}": v for k, v in (extra or {}).items()})
    return env


def local_mail_settings(home: Path, smtp_port: int, notification_port: int) -> dict[str, str]:
    secret_file = home / "email-token-secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    return {
        "EMAIL_ENABLED": "true",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_TLS": "none",
        "MAIL_FROM": "Roadshow <noreply@roadshow.local>",
        "EMAIL_PUBLIC_BASE_URL": f"http://127.0.0.1:{notification_port}",
        "EMAIL_TOKEN_SECRET": secret_file.read_text().strip(),
    }


def wait_ready(url: str, process: subprocess.Popen[bytes], within_seconds: float = 60) -> None:
    """Raises CommandFailed when the process exits or is not ready in time."""
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandFailed(f"{url}: the process exited with {process.returncode}")
        if _ready(url, timeout=1):
            return
        time.sleep(0.2)
    raise CommandFailed(f"{url} not ready after {within_seconds:g} s")


PROG = "python -m deploy.local"


def main(argv: list[str] | None = None) -> int:
    finish(new_parser(PROG, __doc__)).parse_args(argv)
    home = Path(os.environ.get("ROADSHOW_HOME", ".roadshow")).resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    kafka_port = int(os.environ.get("ROADSHOW_KAFKA_PORT", "9092"))
    _refuse_taken_ports(kafka_port, int(os.environ.get("ROADSHOW_HTTP_PORT", "8081")))
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    broker = EmbeddedBroker(port=kafka_port, log_path=home / "logs" / "broker.log")
    mail = Controller(Mailbox(home / "mail"), hostname="127.0.0.1", port=free_port())
    postgres: EmbeddedPostgres | None = None
    running: list[Running] = []
    mail_started = False
    try:
        _start_broker(broker)
        mail.start()
        mail_started = True
        print(f"mail       smtp://127.0.0.1:{mail.port} -> maildir {home / 'mail'}")
        pid = broker.process.pid if broker.process else "?"
        print(f"broker     kafka://{broker.bootstrap_servers} (tansu, memory storage, pid {pid})")
        server_url = os.environ.get("ROADSHOW_DATABASE_URL")
        if not server_url:
            postgres = EmbeddedPostgres(home / "pgdata").start()
            server_url = postgres.url
            print(f"postgres   embedded in {home / 'pgdata'}")
        else:
            print("postgres   from ROADSHOW_DATABASE_URL")
        start_services(home, server_url, broker.bootstrap_servers, mail.port, running)
        start_console(home, running)
        print(f"logs       {home / 'logs'}")
        print(f"operator   token in {home / 'admin-token'}")
        print("ready. Ctrl-C stops everything started here.", flush=True)
        recovery = float(os.environ.get("ROADSHOW_BROKER_RECOVERY_SECONDS", "60"))
        broker_supervisor = BrokerSupervisor(broker, recovery, lambda: stop_requested)
        while not stop_requested:
            # The console has no outbox or consumer: the broker's recovery is not its business.
            broker_supervisor.supervise([r for r in running if r.service in SERVICE_NAMES])
            for r in running:
                r.supervise(time.monotonic())
            time.sleep(0.5)
        return 0
    finally:
        for r in reversed(running):
            stop_process(r.process)
        broker.stop()
        if mail_started:
            mail.stop()
        if postgres is not None:
            postgres.stop()
        print("stopped.")


def _start_broker(broker: EmbeddedBroker) -> None:
    try:
        broker.start()
    except (RuntimeError, TimeoutError) as exc:  # taken since the check, or it died
        raise CommandFailed(f"the broker did not start: {exc}", EXIT_UNAVAILABLE) from None


def _refuse_taken_ports(kafka_port: int, first_http_port: int) -> None:
    """Said before anything starts, so a taken port is one line, not a half-started suite."""
    wanted = [(kafka_port, "the broker", "ROADSHOW_KAFKA_PORT")] + [
        (first_http_port + i, name, "ROADSHOW_HTTP_PORT")
        for i, name in enumerate(available_services())
    ]
    for port, what, variable in wanted:
        if port_open("127.0.0.1", port):
            raise CommandFailed(
                f"port {port} ({what}) is taken by another process: stop it, or set {variable}",
                EXIT_UNAVAILABLE,
            )


def start_services(
    home: Path, server_url: str, bootstrap: str, smtp_port: int, running: list[Running]
) -> None:
    """Each service as its own process (plus `worker` replicas), once it is ready.
    Each is added to `running` as it starts, so that a failed start stops them all."""
    first_port = int(os.environ.get("ROADSHOW_HTTP_PORT", "8081"))
    db_prefix = os.environ.get("ROADSHOW_DB_PREFIX", "roadshow_")
    replicas = max(1, int(os.environ.get("ROADSHOW_REPLICAS", "1")))
    token_file = _secret_file(home / "admin-token", secrets.token_urlsafe(24))
    personal_data_key = _secret_file(home / "personal-data-key", encode_key(new_key()))
    names = available_services()
    asyncio.run(_prepare(server_url, bootstrap, [db_prefix + n for n in names]))
    for i, name in enumerate(names):
        port = first_port + i
        env = service_env(
            name,
            db_url=database_url(server_url, db_prefix + name),
            bootstrap=bootstrap,
            port=port,
            home=home,
            admin_token=token_file.read_text().strip(),
            extra={
                "PERSONAL_DATA_KEY": personal_data_key.read_text().strip(),
                **(local_mail_settings(home, smtp_port, port) if name == "notification" else {}),
            },
        )
        module = [sys.executable, "-m", f"services.{name}"]
        # The broker's memory storage starts empty: re-publish the outbox so the
        # other services catch up (their inboxes drop what they already had).
        replayed = subprocess.run(
            [*module, "replay"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if replayed.returncode != 0:  # its last line says why (shared/terminal.py)
            why = (replayed.stderr.strip().splitlines() or ["no message"])[-1]
            raise CommandFailed(f"{name} could not start: {why}", replayed.returncode)
        running.append(Running.start(name, f"http://127.0.0.1:{port}", [*module, "serve"], env))
        if name in SCALED_OUT:
            for n in range(2, replicas + 1):
                running.append(Running.start(f"{name}-{n}", None, [*module, "worker"], env))
    for r in running:
        if r.url is not None:
            wait_ready(r.url, r.process)
            print(f"{r.name:<10} {r.url}  (docs {r.url}/docs, pid {r.process.pid})")
        else:
            print(f"{r.name:<10} worker replica (pid {r.process.pid})")


def start_console(home: Path, running: list[Running]) -> None:
    """The organisers' web console, on the port after the services'; it calls their
    public APIs like any client, so it needs their URLs and a session key only."""
    if importlib.util.find_spec("services.console") is None:
        return
    first_port = int(os.environ.get("ROADSHOW_HTTP_PORT", "8081"))
    port = first_port + len(SERVICE_NAMES)
    key_file = _secret_file(home / "console-session-key", Fernet.generate_key().decode())
    env = dict(os.environ)
    env.update(
        {
            "CONSOLE_HTTP_PORT": str(port),
            "CONSOLE_REGISTRATION_URL": f"http://127.0.0.1:{first_port}",
            "CONSOLE_MATCHING_URL": f"http://127.0.0.1:{first_port + 1}",
            "CONSOLE_NOTIFICATION_URL": f"http://127.0.0.1:{first_port + 2}",
            "CONSOLE_SESSION_KEY": key_file.read_text().strip(),
            "CONSOLE_LOG_FILE": str(home / "logs" / "console.jsonl"),
        }
    )
    url = f"http://127.0.0.1:{port}"
    console = Running.start("console", url, [sys.executable, "-m", "services.console"], env)
    running.append(console)
    wait_ready(url, console.process)
    print(f"{'console':<10} {url}  (pid {console.process.pid})")


def _secret_file(path: Path, new_value: str) -> Path:
    """A secret kept in the state folder, made once, readable by its owner only."""
    if not path.exists():
        path.write_text(new_value)
        path.chmod(0o600)
    return path


# Services whose consumers share their topics' partitions with more group members.
SCALED_OUT = ("matching", "notification")


async def _prepare(server_url: str, bootstrap: str, databases: list[str]) -> None:
    for name in databases:
        await create_database(server_url, name)
    # Migrations run when each service starts; topics are created here, explicitly.
    await ensure_topics(bootstrap, Topics().all(), compacted=Topics().compacted())


if __name__ == "__main__":
    sys.exit(run_command(PROG, main))
