"""The workflow sandbox the lead workflow runs in.

Temporal's sandbox re-imports a workflow's modules for every run, to keep one run's
module state from leaking into another. The lead workflow's own module and the pure core
must stay inside it; but importing the `engine.runtime` package also brings the I/O side
(SQLAlchemy, Jinja2, aiosmtplib, FastAPI...), which workflow code never calls. Passing
those through — imported once, shared — cuts the cost of a new run from most of a second
to milliseconds, which matters because every lead and every continue-as-new is a run.
"""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Modules workflow code never executes; shared with the worker process, never re-imported.
IO_MODULES = (
    "engine.store", "engine.mail", "engine.api", "engine.settings",
    "engine.runtime.activities", "engine.runtime.client", "engine.runtime.relay",
    "sqlalchemy", "sqlmodel", "jinja2", "markupsafe", "aiosmtplib", "pydantic_settings",
    "dotenv", "fastapi", "starlette", "httpx", "anyio", "psycopg",
)


def lead_workflow_runner() -> SandboxedWorkflowRunner:
    """A sandbox that re-imports only workflow code and the pure core for each run."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*IO_MODULES))
