"""The replay corpus: every recorded history replays against today's workflow code.

A failure here means a change alters what a workflow commands for leads already running.
Put the change behind `workflow.patched` (docs/change-safety.md) instead of re-recording.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from engine.dsl import library
from engine.dsl.spec import PlaybookSpec
from engine.runtime import LeadWorkflow
from engine.runtime.sandbox import lead_workflow_runner
from tests.releases import latest_release
from worker.assembly import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
PLAYBOOKS = "playbooks.json"
"""Beside a corpus recorded from code that names playbooks by version: those versions."""
CORPUS = sorted(p for p in HISTORIES.rglob("*.json") if p.name != PLAYBOOKS)
# Every play the corpus of the latest release must hold (the file names start with these).
PLAYS = [
    "webinar_attendee", "webinar_case_study_accelerates", "pricing_visitor",
    "content_syndication", "cadence_30_60_90", "re_engagement_after_21_days",
    "reactivation_engaged", "reactivation_never_engaged", "triggers_and_committee",
    "unsubscribe", "continued_as_new", "sales_breach_reroute_accept",
    "sales_timing_reject_rest_reactivate", "sales_competitor_reject",
    "sales_no_response_recycle", "sales_retier_on_hand_raise", "sales_webhook",
]
# The histories of today's code, recorded for the next release (`record --as 0.2.0`), and
# the plays only it has.
NEXT = "0.3.0"
NEW_PLAYS = ["migrated_mid_wait", "burst_in_one_signal"]


@pytest.fixture(autouse=True, scope="module")
def _playbooks_known() -> None:
    """A worker knows the playbook versions its leads run (the store keeps them); here,
    the versions recorded beside each corpus."""
    for path in HISTORIES.rglob(PLAYBOOKS):
        for spec in json.loads(path.read_text()).values():
            library.remember(PlaybookSpec.model_validate(spec))


def load(path: Path) -> WorkflowHistory:
    """A recorded history: the recorder's wrapper (`history` plus what it covers) or a bare
    history as Temporal exports it."""
    data: dict[str, Any] = json.loads(path.read_text())
    workflow_id = data.get("workflow_id", path.stem)
    return WorkflowHistory.from_json(workflow_id, data.get("history", data))


def replayer(**options: Any) -> Replayer:
    return Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter,
                    **({"workflow_runner": lead_workflow_runner()} | options))


@pytest.mark.parametrize("path", CORPUS, ids=[str(p.relative_to(HISTORIES)) for p in CORPUS])
async def test_recorded_history_replays_on_todays_code(path: Path) -> None:
    result = await replayer().replay_workflow(load(path))
    assert result.replay_failure is None


@pytest.mark.parametrize(("label", "plays"), [
    (latest_release().version, PLAYS), (NEXT, PLAYS + NEW_PLAYS)])
def test_the_corpus_covers_every_play(label: str, plays: list[str]) -> None:
    folder = HISTORIES / label
    recorded = {p.name.split(".")[0] for p in folder.glob("*.json") if p.name != PLAYBOOKS}
    assert [play for play in plays if play not in recorded] == []
    assert len(recorded) >= 12
    # Sales histories really hold sales answers and SLA timers, not just an enrolment.
    breach = json.loads((folder / "sales_breach_reroute_accept.json").read_text())
    kinds = [e["eventType"] for e in breach["history"]["events"]]
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED" in kinds
    assert kinds.count("EVENT_TYPE_TIMER_FIRED") >= 2


async def test_replay_catches_a_reordered_workflow_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording the lead's position before registering it (the same commands, in another
    order) is exactly the kind of change that would break every running lead."""
    original_enroll, original_record = LeadWorkflow._enroll, LeadWorkflow._record_position
    skip: set[int] = set()

    async def enroll_position_first(self: LeadWorkflow) -> None:
        await original_record(self)
        skip.add(id(self))
        await original_enroll(self)

    async def record_once(self: LeadWorkflow) -> None:
        if id(self) in skip:
            skip.discard(id(self))
            return
        await original_record(self)

    history = load(HISTORIES / latest_release().version / "webinar_attendee.json")
    # The tampered class is used as it is, not re-imported in a sandbox.
    tampered = replayer(workflow_runner=UnsandboxedWorkflowRunner())
    await tampered.replay_workflow(history)  # untampered, it replays
    monkeypatch.setattr(LeadWorkflow, "_enroll", enroll_position_first)
    monkeypatch.setattr(LeadWorkflow, "_record_position", record_once)
    with pytest.raises(NondeterminismError):
        await tampered.replay_workflow(history)
