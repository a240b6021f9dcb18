"""`nurture simulate` loads only what a simulation needs, and builds the playbook once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
