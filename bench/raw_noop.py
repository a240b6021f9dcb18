"""The raw baseline of the scale bench: a workflow that completes at once.

It lives in a module of its own, this small, because the sandbox imports a workflow's module
afresh for every run: the baseline should cost what a start costs, not what compiling a
bench's helpers costs.
"""

from temporalio import workflow


@workflow.defn(name="BenchRawNoop")
class RawNoop:
    """Completes at once: what a workflow start costs Temporal and a worker with no logic."""

    @workflow.run
    async def run(self) -> None:
        """Nothing to do."""
