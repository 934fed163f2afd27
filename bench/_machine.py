"""The whole machine's CPU over a stretch of a bench run, and who used it: each
service process, each database's server processes, the broker, the driver. The
services' own CPU is not the whole cost of an event: on one machine their
databases, the broker and the driver share the same cores, and a target missed
because the machine is full reads differently from one missed by a slow path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from _suite import ServiceProcess, cpu_seconds

_TICK = os.sysconf("SC_CLK_TCK")  # /proc/stat counts in clock ticks


@dataclass(frozen=True)
class Snapshot:
    wall: float  # seconds since boot, from /proc/uptime
    busy: float  # CPU seconds the machine has spent outside idle and iowait
    used: dict[int, tuple[str, float]]  # pid -> (who, CPU seconds so far)


@dataclass(frozen=True)
class Account:
    wall: float
    cores: int
    busy: float
    by_who: dict[str, float]  # CPU seconds over the stretch

    @property
    def rest(self) -> float:
        """What the machine spent besides the processes named: the kernel's own
        work, processes that ended in the stretch, everything else running."""
        return max(0.0, self.busy - sum(self.by_who.values()))


def snapshot(services: list[ServiceProcess]) -> Snapshot:
    names = {p.pid: f"{p.service} {p.role}" for p in services}
    used: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        who = names.get(pid) or _who(pid, argv)
        seconds = cpu_seconds(pid) if who is not None else None
        if who is not None and seconds is not None:
            used[pid] = (who, seconds)
    return Snapshot(_uptime(), _busy(), used)


def account(before: Snapshot, after: Snapshot) -> Account:
    by_who: dict[str, float] = {}
    for pid, (who, seconds) in after.used.items():
        _, earlier = before.used.get(pid, (who, 0.0))
        by_who[who] = by_who.get(who, 0.0) + seconds - earlier
    return Account(
        wall=after.wall - before.wall,
        cores=os.cpu_count() or 1,
        busy=after.busy - before.busy,
        by_who=by_who,
    )


def _who(pid: int, argv: list[str]) -> str | None:
    if pid == os.getpid():
        return "driver (this process)"
    first = argv[0]
    if first.startswith("postgres:"):
        # A client's server process is titled "postgres: [cluster:] user database host
        # state", the host "[local]" or "address(port)"; the server's own are not.
        words = first.removeprefix("postgres:").split()
        if words and words[0].endswith(":"):
            words = words[1:]
        if len(words) >= 3 and (words[2] == "[local]" or "(" in words[2]):
            return f"database {words[1]}"
        return "PostgreSQL's own processes"
    if "tansu" in Path(first).name:
        return "broker (tansu)"
    return None


def _uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def _busy() -> float:
    # The machine's line of /proc/stat: user nice system idle iowait irq softirq steal ...
    ticks = [int(t) for t in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / _TICK
