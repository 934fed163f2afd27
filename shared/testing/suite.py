"""The suite as `make up` runs it, for benchmarks and the fault suite: start
`python -m deploy.local` with a state folder and ports of its own, wait for every
service's /readyz, find the processes it started (services and the broker, by parent
pid and command line in /proc), read their memory, and stop it again by pid.
Nothing here imports a service. (Moved from bench/_suite.py, which re-exports it.)"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICES = ("registration", "matching", "notification")
MARKER = ".bench-home"  # a folder the bench may wipe carries this file


@dataclass(frozen=True)
class Urls:
    registration: str
    matching: str
    notification: str

    @classmethod
    def from_port(cls, first_port: int, host: str = "127.0.0.1") -> Urls:
        base = f"http://{host}"
        return cls(f"{base}:{first_port}", f"{base}:{first_port + 1}", f"{base}:{first_port + 2}")

    def by_service(self) -> dict[str, str]:
        return {
            "registration": self.registration,
            "matching": self.matching,
            "notification": self.notification,
        }


@dataclass(frozen=True)
class ServiceProcess:
    service: str
    role: str  # serve | worker | ...
    pid: int


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port_run(count: int, start: int = 21000, stop: int = 40000) -> int:
    """The first of `count` consecutive free ports, searched from a pid-dependent offset."""
    span = stop - start
    for k in range(span):
        port = start + (os.getpid() * 7 + k * 11) % span
        if all(port_free(port + i) for i in range(count)):
            return port
    raise RuntimeError("no free port range")


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def supports_replicas() -> bool:
    """Whether this checkout's `make up` reads ROADSHOW_REPLICAS (its documented switch)."""
    return "ROADSHOW_REPLICAS" in (ROOT / "deploy" / "local.py").read_text()


def prepare_home(home: Path) -> None:
    """A fresh state folder (so no earlier run's outbox is replayed into this one).
    Only a folder this bench made (it carries MARKER) is wiped."""
    if home.exists():
        if not (home / MARKER).exists():
            raise SystemExit(f"{home} exists and was not made by the bench; pass another --home")
        if _postgres_alive(home / "pgdata"):
            raise SystemExit(f"a PostgreSQL server still runs on {home / 'pgdata'}; stop it first")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("made by bench/; wiped at the start of each run\n")


def _postgres_alive(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def embedded_postgres_url(home: Path, database: str = "postgres") -> str | None:
    """The URL of the embedded server `make up` runs in <home>/pgdata, from the
    postmaster.pid PostgreSQL writes (line 4: port, line 5: socket folder)."""
    pid_file = home / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    lines = pid_file.read_text().splitlines()
    port, socket_dir = lines[3].strip(), lines[4].strip()
    return f"postgresql://postgres@/{database}?host={socket_dir}&port={port}"


@dataclass
class Suite:
    """`python -m deploy.local` as a child process, stopped by its pid."""

    home: Path
    kafka_port: int
    first_port: int
    replicas: int = 1
    database_url: str | None = None
    db_prefix: str = "roadshow_"  # databases are <prefix><service> on the server
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. NOTIFICATION_RETRY_SCHEDULE
    process: subprocess.Popen[bytes] | None = None
    children: set[int] = field(default_factory=set)

    @property
    def urls(self) -> Urls:
        return Urls.from_port(self.first_port)

    @property
    def console_url(self) -> str:
        """The organisers' console `make up` starts after the three services."""
        return f"http://127.0.0.1:{self.first_port + len(SERVICES)}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "ROADSHOW_HOME": str(self.home),
                "ROADSHOW_KAFKA_PORT": str(self.kafka_port),
                "ROADSHOW_HTTP_PORT": str(self.first_port),
                "ROADSHOW_DB_PREFIX": self.db_prefix,
                "ROADSHOW_REPLICAS": str(self.replicas),
            }
        )
        if self.database_url:
            env["ROADSHOW_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self, within_seconds: float) -> None:
        prepare_home(self.home)
        log = (self.home / "deploy-local.out").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deploy.local"],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + within_seconds
        expected = [*self.urls.by_service().values()]
        if (ROOT / "services" / "console").is_dir():
            expected.append(self.console_url)
        while not all(ready(u) for u in expected):
            self.services()  # remember children as they come, to stop them if start fails
            if self.process.poll() is not None:
                raise RuntimeError(f"make up exited with {self.process.returncode}; see {log.name}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the suite was not ready after {within_seconds:.0f} s; see {log.name}"
                )
            time.sleep(0.3)
        self.services()

    def admin_token(self) -> str:
        return (self.home / "admin-token").read_text().strip()

    def services(self) -> list[ServiceProcess]:
        if self.process is None:
            return []
        found = service_processes(self.process.pid)
        self.children.update(p.pid for p in found)
        return found

    def broker_pid(self) -> int | None:
        """The embedded broker deploy.local runs now (it may have restarted it)."""
        if self.process is None:
            return None
        pid = broker_process(self.process.pid)
        if pid is not None:
            self.children.add(pid)
        return pid

    def stop(self) -> None:
        """SIGINT to deploy.local (it stops what it started), then by pid what is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in self.children:  # what deploy.local left behind (a failed start, a hang)
            if _alive_service(pid):
                os.kill(pid, signal.SIGKILL)
        self.process = None


def _alive_service(pid: int) -> bool:
    """Whether `pid` is still a service or broker process (not a reused pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return "services." in argv or "--storage-engine" in argv


def _children(parent_pid: int) -> list[tuple[int, list[str]]]:
    """(pid, argv) of every process whose parent is `parent_pid`."""
    found: list[tuple[int, list[str]]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent_pid:
            found.append((int(entry.name), argv))
    return found


def broker_process(parent_pid: int) -> int | None:
    """The pid of the tansu broker started by `parent_pid` (`tansu… broker …`)."""
    for pid, argv in _children(parent_pid):
        if "broker" in argv[1:2] and "--storage-engine" in argv:
            return pid
    return None


def service_processes(parent_pid: int) -> list[ServiceProcess]:
    """Processes whose parent is `parent_pid` and whose command line is
    `python -m services.<name> <role>`."""
    found: list[ServiceProcess] = []
    for pid, argv in _children(parent_pid):
        if "-m" not in argv:
            continue
        module = argv[argv.index("-m") + 1] if argv.index("-m") + 1 < len(argv) else ""
        name = module.removeprefix("services.")
        if module.startswith("services.") and name in SERVICES:
            role = argv[argv.index("-m") + 2] if argv.index("-m") + 2 < len(argv) else "?"
            found.append(ServiceProcess(name, role, pid))
    return sorted(found, key=lambda p: (SERVICES.index(p.service), p.role, p.pid))


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    # After the command: state is field 3 of stat(5), utime and stime are 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of a process in kB: resident now, and its peak resident."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    if "VmRSS" not in values:
        return None
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])
