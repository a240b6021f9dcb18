"""`bench/simulate_loop.py`, short: the real `nurture simulate` ends cleanly, every time, on
a machine busy-looping on every CPU."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.simulate_loop import EXAMPLE, describe, loop, simulate_command

NURTURE = Path(sys.executable).parent / "nurture"


def test_five_simulations_under_cpu_load_all_exit_0_with_their_whole_timeline() -> None:
    runs = loop(simulate_command(NURTURE, EXAMPLE), runs=5, load=os.cpu_count() or 2,
                timeout=300, report=False)

    report = "\n".join(describe(n, len(runs), run) for n, run in enumerate(runs, 1))
    assert [run.code for run in runs] == [0] * 5, report
    assert all(run.complete and run.fatal is None for run in runs), report
