"""The typed client is the only way in: no other module names a workflow handler by string."""

from __future__ import annotations

import re
from pathlib import Path

from engine.client import leads
from engine.runtime import LeadWorkflow

ROOT = Path(__file__).resolve().parents[3]
BY_NAME = re.compile(r"""(execute_update|start_update|\.query|\.signal)\(\s*["']|"""
                     r"""start_signal\s*=\s*["']""")


def test_the_start_signal_name_is_the_events_handlers() -> None:
    definition = LeadWorkflow.events.__temporal_signal_definition  # type: ignore[attr-defined]
    assert definition.name == leads.EVENTS_SIGNAL


def test_no_code_outside_the_typed_client_names_a_handler_by_string() -> None:
    offenders = []
    for folder in ("engine", "worker", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if BY_NAME.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
