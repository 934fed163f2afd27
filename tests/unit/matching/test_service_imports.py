"""The matching service process does not load what only the solver's pool uses:
scipy.optimize and HiGHS are about 27 MB of its resident memory."""

from __future__ import annotations

import subprocess
import sys


def test_the_service_process_loads_no_solving_parts_until_it_solves() -> None:
    probe = (
        "import sys\n"
        "import services.matching.bootstrap\n"
        "from services.matching.scheduling import solver\n"
        "assert 'scipy.optimize' not in sys.modules, 'loaded at start'\n"
        "assert callable(solver.solve) and callable(solver.solve)\n"  # loads, then stays a function
        "assert 'scipy.optimize' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
