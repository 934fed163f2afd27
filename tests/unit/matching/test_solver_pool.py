"""The solver's pool process ends with the service that started it: killed with
SIGKILL, the service leaves neither a pool process nor the fork server behind
(they waited on a queue whose write end they held themselves, for good)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys

from shared.testing.waiting import eventually

PROBE = """
import asyncio, time
from multiprocessing import forkserver
from services.matching.scheduling.worker import _SolverPool
pool = _SolverPool()
asyncio.run(pool.start())
print(*pool._pool._processes, forkserver._forkserver._forkserver_pid, flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_killed_service_leaves_no_solver_process_behind() -> None:
    service = subprocess.Popen(
        [sys.executable, "-c", PROBE], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert service.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(service.stdout.readline), 60)
        pids = [int(p) for p in line.split()]  # the pool process, the fork server
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        os.kill(service.pid, signal.SIGKILL)
        await asyncio.to_thread(service.wait, 10)

        async def all_gone() -> bool:
            return not any(_alive(p) for p in pids)

        await eventually(all_gone, within=20, what="the pool process and fork server to end")
    finally:
        # The probe leads its own session: whatever a failure left of it goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGKILL)
