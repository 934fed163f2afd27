"""`solve` as a task of a process pool: the solver holds the GIL for seconds, so
it runs in a process of its own, and reports its progress through a shared
double that the worker's heartbeat reads. This module and the solver are all a
pool process imports (numpy and scipy; no event loop, no database driver)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any

from services.matching.scheduling.solver.instance import BoolArray, Instance, IntArray, Schedule

# What a pool process preloads (the forkserver's): this module and the solving parts,
# which the service process that submits the tasks never imports itself.
PRELOAD = [
    "services.matching.scheduling.solver.process",
    "services.matching.scheduling.solver.solving",
]

# The pool process's progress value (a multiprocessing.Value("d")), given once
# when the process starts: shared memory can only be handed over then.
_progress: Any = None


def init_pool_process(value: Any) -> None:
    """The pool process's initializer: keep the progress value, and end with the
    process that submits the tasks. A pool process waits on its task queue, whose
    write end it holds itself, so when the service is killed (SIGKILL, OOM) it would
    wait for good, and keep the fork server alive with it."""
    global _progress
    _progress = value
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()  # its sentinel closes when the parent exits, however it dies
        os._exit(1)


def ready() -> bool:
    """A task that only proves the process is up."""
    return True


def _report(fraction: float) -> None:
    if _progress is not None:
        _progress.value = fraction


def solve_reporting(
    inst: Instance,
    must: BoolArray | None,
    fixed: tuple[IntArray, IntArray, IntArray] | None,
    locked: BoolArray | None = None,
) -> Schedule:
    from services.matching.scheduling.solver.solving import solve  # preloaded in the pool

    return solve(inst, _report, must=must, fixed=fixed, locked=locked)
