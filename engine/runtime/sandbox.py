"""The workflow sandbox the lead workflow runs in.

Temporal's sandbox re-imports a workflow's modules for every run, to keep one run's
module state from leaking into another. The workflow code itself (`lead_workflow`,
`lead_effects`, `notices`) stays inside it. Two kinds of module are passed through —
imported once, shared:

- the I/O side (SQLAlchemy, Jinja2, aiosmtplib, FastAPI...), which workflow code never
  calls but importing the `engine.runtime` package brings in; this cuts the cost of a new
  run from most of a second to milliseconds, and every lead and continue-as-new is a run;
- the pure core: the state, the messages and the decisions. One copy of each model class
  means the workflow's input, its state and its activity payloads are always the same
  classes. The core holds no module state and reads no clock (tests/test_architecture.py
  checks it), which is what the sandbox would otherwise guard.

The workflow code is compiled once per process, not once per run (`code_cache`).

A worker may run the lead workflow without the sandbox (`lead_workflow_runner(sandboxed=
False)`, the worker's default, `NURTURE_WORKER_WORKFLOW_SANDBOX`): inside the sandbox every
payload a workflow task decodes (each signal, each activity result) enters the sandbox to
find its serialization context, which measured about 1 ms of CPU a payload and 2.7-3 times
the CPU of the same history replayed without it. No playbook code runs in a workflow (tracks
are data the engine interprets), the core is passed through already, the workflow modules
read no clock and keep no module state (tests/test_architecture.py), and every change is
replayed against the recorded corpus, which the tests do inside the sandbox, so a forbidden
call still fails CI.
"""

from __future__ import annotations

from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from engine.runtime.code_cache import keep_code

# Modules workflow code never executes; shared with the worker process, never re-imported.
IO_MODULES = (
    "engine.store", "engine.mail", "engine.api", "engine.settings",
    "engine.runtime.activities", "engine.client",
    "sqlalchemy", "sqlmodel", "jinja2", "markupsafe", "aiosmtplib", "pydantic_settings",
    "dotenv", "fastapi", "starlette", "httpx", "anyio", "psycopg",
)


PURE_MODULES = (
    "engine.journey", "engine.dsl", "engine.events", "engine.leads", "engine.scoring",
    "engine.feedback", "engine.handoff", "engine.business_hours", "engine.routing",
    "engine.sla", "engine.cadence", "engine.errors", "engine.runtime.models",
    "engine.runtime.messages",
)


def lead_workflow_runner(*, sandboxed: bool = True) -> WorkflowRunner:
    """A sandbox that re-imports only the workflow code for each run (or, not `sandboxed`,
    the workflow code run as it is imported)."""
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    keep_code("engine.runtime")
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*IO_MODULES,
                                                                        *PURE_MODULES)
    return SandboxedWorkflowRunner(restrictions=restrictions)
