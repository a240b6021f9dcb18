"""The floor under `nurture simulate`: the same Temporal work with none of the engine.

    .venv/bin/python bench/simulate_floor.py --shape EXAMPLE OUT.json   # once, not timed
    .venv/bin/python bench/simulate_floor.py OUT.json SERVER [--code]   # timed by the bench

`--shape` simulates EXAMPLE with the project's code on a time-skipping server and reads back
what Temporal did for it: every run of the lead's workflow (continue-as-new), in order, its
timers (how long each was set for), activities and local activities, and when the
simulation signalled the lead. It writes that shape as JSON.

The second form is what `bench/simulate.py` times beside the bare import and the command:
a fresh process that imports only Temporal, starts the time-skipping server (SERVER: the
binary the command uses), runs one workflow that does exactly that shape with no-op
activities, sends the same signals at the same simulated times through `env.sleep`, as
the command does, and ends the way the command ends (the workflow cancelled and seen to
end, the server stopped, Temporal's core let go, then the interpreter's teardown). No engine
module, no pydantic model, no database, no template is loaded, and the default data
converter carries empty payloads: what is left is what any simulation of that lead on
Temporal's time-skipping server pays, however fast the engine's own code were.

With `--code` the process first imports the engine code that any simulation of a lead
must load besides Temporal, and nothing of the store (no SQLAlchemy, no SQLModel): the
playbook and its DSL, the journey's decisions, the scoring, the email renderer and the
settings (`ENGINE_CODE`). That floor is what a simulation costs if its store and its run
were free.

A wait in the shape ends at its timer or at the next signal, whichever is first, as the
lead's waits do; so the floor's workflow tasks follow the command's closely, not exactly.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

QUEUE = "floor"
ENGINE_CODE = ("temporalio.contrib.pydantic", "engine.dsl.spec", "engine.journey.reactions",
               "engine.journey.steps", "engine.scoring", "engine.mail.render",
               "engine.settings", "workflows")


@activity.defn(name="noop")
async def noop() -> None:
    """Stands in for every activity of the lead."""


@workflow.defn(name="Floor")
class Floor:
    """Does one run's part of the shape, then continues into the next run's."""

    def __init__(self) -> None:
        self.signals = self.seen = 0

    @workflow.signal
    def events(self) -> None:
        self.signals += 1

    @workflow.run
    async def run(self, runs: list[list[list[Any]]]) -> None:
        self.seen = self.signals
        for op in runs[0]:
            if op[0] == "timer":
                try:
                    await workflow.wait_condition(lambda: self.signals > self.seen,
                                                  timeout=timedelta(seconds=op[1]))
                except TimeoutError:
                    pass
                self.seen = self.signals
            elif op[0] == "activity":
                await workflow.execute_activity(noop, start_to_close_timeout=timedelta(
                    seconds=60))
            elif op[0] == "local":
                await workflow.execute_local_activity(noop, start_to_close_timeout=timedelta(
                    seconds=60))
        if len(runs) > 1:
            workflow.continue_as_new(runs[1:])
        await workflow.wait_condition(lambda: False)  # the last run waits, as a lead does


async def floor(shape: dict[str, Any], server: str) -> None:
    quiet = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(  # as the command's
        filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))
    env = await WorkflowEnvironment.start_time_skipping(runtime=quiet,
                                                        test_server_existing_path=server)
    async with env, Worker(env.client, task_queue=QUEUE, workflows=[Floor],
                           activities=[noop], workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await env.client.start_workflow(Floor.run, shape["runs"], id="floor",
                                                 task_queue=QUEUE)
        elapsed = 0.0
        for at in shape["signals"]:
            if at > elapsed:
                await env.sleep(timedelta(seconds=at - elapsed))
                elapsed = at
            await handle.signal(Floor.events)
        await env.sleep(timedelta(seconds=max(0.0, shape["until"] - elapsed)))
        await handle.cancel()
        try:
            await handle.result()
        except WorkflowFailureError:
            pass  # cancelled, as the command's lead ends
    del env, handle
    gc.collect()  # the core goes now, as the command's does


# --- reading the shape of a real simulation ------------------------------------------------

async def shape_of(example: Path) -> dict[str, Any]:
    """Simulate `example` with the project's code and read back what Temporal did."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from temporalio.api.enums.v1 import EventType
    from temporalio.contrib.pydantic import pydantic_data_converter

    from engine.runtime.messages import workflow_id_for
    from engine.settings import load_playbook, load_settings
    from worker.simulate import load_scenario, quiet_runtime, simulate, test_server_path

    scenario = load_scenario(example)
    settings = load_settings()
    playbook = load_playbook(settings.playbook)
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, runtime=quiet_runtime(),
        test_server_existing_path=test_server_path())
    async with env:
        result = await simulate(scenario, playbook, settings, env=env)
        workflow_id, run_id = workflow_id_for(scenario.lead.id), None
        histories = []
        while True:
            history = await env.client.get_workflow_handle(
                workflow_id, run_id=run_id).fetch_history()
            histories.insert(0, history.events)
            previous = history.events[0].workflow_execution_started_event_attributes \
                .continued_execution_run_id
            if not previous:
                break
            run_id = previous
    started = histories[0][0].event_time.ToDatetime()
    runs, signals, counts = [], [], {"timer": 0, "activity": 0, "local": 0, "tasks": 0}
    for events in histories:
        ops: list[list[Any]] = []
        for event in events:
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_TIMER_STARTED:
                timeout = event.timer_started_event_attributes.start_to_fire_timeout
                ops.append(["timer", timeout.ToTimedelta().total_seconds()])
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                ops.append(["activity"])
            elif kind == EventType.EVENT_TYPE_MARKER_RECORDED and \
                    event.marker_recorded_event_attributes.marker_name == "core_local_activity":
                ops.append(["local"])
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                at = event.event_time.ToDatetime() - started
                signals.append(at.total_seconds())
            counts["tasks"] += kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        for op in ops:
            counts[op[0]] += 1
        runs.append(ops)
    return {"example": example.stem, "runs": runs, "signals": signals,
            "until": scenario.until.total_seconds(), "timeline": len(result.timeline),
            "counts": {**counts, "runs": len(runs), "signals": len(signals)}}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--shape"]:
        shape = asyncio.run(shape_of(Path(argv[1])))
        Path(argv[2]).write_text(json.dumps(shape))
        print(json.dumps(shape["counts"]), flush=True)
        os._exit(0)
    if argv[2:] == ["--code"]:
        import importlib

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        for name in ENGINE_CODE:
            importlib.import_module(name)
        if "sqlalchemy" in sys.modules:
            raise SystemExit("the engine code named here loaded SQLAlchemy")
    asyncio.run(floor(json.loads(Path(argv[0]).read_text()), argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
