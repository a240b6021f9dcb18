"""`nurture simulate` loads only what a simulation needs, and builds the playbook once."""

from __future__ import annotations

import json
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import pytest
from temporalio.runtime import Runtime

import worker.simulate as simulation
from engine.store import Store
from worker.simulate import quiet_runtime
from workflows import PLAYBOOK

ROOT = Path(__file__).resolve().parents[2]

NEVER_LOADED = ("fastapi", "uvicorn", "starlette", "engine.api", "httpx", "alembic", "mako",
                "pygments", "rich", "sqlalchemy.dialects.postgresql", "psycopg")
"""The web stack, the schema revisions and the terminal tables: other commands' business."""

PROBE = """
import asyncio, gc, json, sys
from pathlib import Path

import worker.cli  # the command line, as `nurture simulate` loads it
from engine.dsl.spec import PlaybookSpec
from engine.settings import load_playbook, load_settings
from worker.simulate import load_scenario, simulate

playbook = load_playbook(load_settings().playbook)
result = asyncio.run(simulate(load_scenario(Path(sys.argv[1])), playbook, load_settings()))
specs = [o for o in gc.get_objects() if isinstance(o, PlaybookSpec)]
print(json.dumps({"loaded": sorted(m for m in NEVER if m in sys.modules),
                  "specs": len(specs), "same": all(s is playbook for s in specs),
                  "lines": len(result.timeline)}))
"""


def run_probe(example: str) -> dict[str, object]:
    code = f"NEVER = {NEVER_LOADED!r}\n{PROBE}"
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "examples" / example)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_a_simulation_loads_no_web_stack_schema_revisions_or_terminal_tables() -> None:
    found = run_probe("webinar_attendee.json")

    assert found["lines"] and found["loaded"] == []


def test_a_simulation_keeps_the_one_playbook_it_was_given() -> None:
    # Compiled once, when its module was imported; the workflow reads it by version, and no
    # payload carries a copy of it back and forth.
    found = run_probe("quiet_newsletter_lead.json")

    assert found["lines"] and found["specs"] == 1 and found["same"]


ENDING = """
import asyncio, gc, json, os, sys
from pathlib import Path

import temporalio.runtime
from engine.settings import load_playbook, load_settings
from worker.simulate import load_scenario, simulate


def core_threads():
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return None
    return sorted(name for name in ((t / "comm").read_text().strip() for t in tasks.iterdir())
                  if name.startswith("tokio"))


async def main():
    result = await simulate(load_scenario(Path(sys.argv[1])),
                            load_playbook(load_settings().playbook), load_settings())
    # Still inside the event loop: everything of Temporal's must be gone already.
    return {"lines": len(result.timeline), "threads": core_threads(),
            "runtimes": sum(isinstance(o, temporalio.runtime.Runtime) for o in gc.get_objects())}

print(json.dumps(asyncio.run(main())), flush=True)
"""


def test_a_simulation_stops_temporal_s_core_before_its_event_loop_closes() -> None:
    # A core left running (its runtime held by the worker, which kept the lead's terminated
    # run cached) met the interpreter's teardown, where the process could abort with
    # "Fatal Python error" after printing the whole timeline.
    done = subprocess.run([sys.executable, "-c", ENDING,
                           str(ROOT / "examples" / "webinar_attendee.json")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]  # and the teardown went by quietly
    assert "Fatal Python error" not in done.stderr and "outlived" not in done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["lines"] and found["runtimes"] == 0
    assert found["threads"] in ([], None), found["threads"]


class _BrokenStore(Store):
    def record_event(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the store broke")


async def test_a_failed_simulation_stops_temporal_s_core_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[weakref.ref[Runtime]] = []

    def runtime() -> Runtime:
        fresh = quiet_runtime()
        made.append(weakref.ref(fresh))
        return fresh

    monkeypatch.setattr(simulation, "quiet_runtime", runtime)
    store = _BrokenStore.temporary()
    scenario = simulation.load_scenario(ROOT / "examples" / "webinar_attendee.json")
    try:
        with pytest.raises(RuntimeError, match="the store broke"):
            await simulation.simulate(scenario, PLAYBOOK, store=store)
    finally:
        store.dispose()

    assert len(made) == 1 and made[0]() is None  # the traceback kept it, before
