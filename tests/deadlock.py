"""Temporal's deadlock detector in the tests: patient, not off.

A worker fails a workflow task that has not yielded after 2 s as a potential deadlock
(TMPRL1101). The engine's workflow tasks take milliseconds (35 ms of CPU at most, measured
across the runtime, replay and demo tests: no imports, no first-use costs, no finalizers
in workflow code), but a test process is a poor place to time them. Its heap holds all
that earlier tests left, and a full garbage collection of it stops every thread, the
workflow task's and the event loop's, for as long as it takes: 1.3 s measured beside the
runtime tests on a machine at load 4, 2.7 s with a grown heap and the CPUs saturated. A
task caught in one on a loaded 2-core machine fails for the machine's sake, not the code's
(the TMPRL1101 seen in `test_the_demo_hands_a_demo_request_to_sales_at_tier_one` was raised
inside a collection's callback on the workflow task's thread).

So the tests' workers and replayers give a workflow task `TEST_BUDGET` seconds instead:
longer than the tests' own waits, so a starved task cannot fail a test that would pass,
while a workflow that really blocks is still reported, with its stack, as TMPRL1101.
`debug_mode` (or TEMPORAL_DEBUG) is not the answer: it switches the detector off and runs
every workflow task on the event loop's thread, so the tests would run workflows as
production never does, and a stuck workflow would freeze the test's event loop without a
word. Production workers are built without any of this and keep Temporal's 2 s
(tests/test_deadlock_budget.py shows both).

Temporal's Python SDK has no option for the budget (sdk-python#1050), so this sets the
attribute its workflow worker reads, after the worker is built, and fails loudly if a new
SDK release no longer has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from temporalio.worker import _workflow

TEST_BUDGET = 60.0
"""Seconds a workflow task may run in a test's worker before it counts as a deadlock."""

_budget: list[float | None] = [TEST_BUDGET]


def install() -> Callable[[], None]:
    """Give every workflow worker built from now on the tests' budget; the undo."""
    original = _workflow._WorkflowWorker.__init__

    def patient(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if not hasattr(self, "_deadlock_timeout_seconds"):
            raise RuntimeError("temporalio's workflow worker no longer has "
                               "_deadlock_timeout_seconds: see tests/deadlock.py")
        # None: debug mode, no detector at all; leave it so.
        if self._deadlock_timeout_seconds is not None and _budget[0] is not None:
            self._deadlock_timeout_seconds = _budget[0]

    _workflow._WorkflowWorker.__init__ = patient  # type: ignore[method-assign]

    def undo() -> None:
        _workflow._WorkflowWorker.__init__ = original  # type: ignore[method-assign]

    return undo


@contextmanager
def temporals_own_budget() -> Iterator[None]:
    """Workers built inside the block keep Temporal's own budget, as in production."""
    before, _budget[0] = _budget[0], None
    try:
        yield
    finally:
        _budget[0] = before
