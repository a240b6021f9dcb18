"""The chaos suite's short form: the real processes under faults, at a small size.

One run on SQLite (a worker and an API) takes every scenario in turn while producers send:
two worker kills mid-send, a Temporal kill, an API kill mid-batch, a window of SMTP 451s, an
SMTP outage, a held database write lock, and bad mailboxes (5.1.1) and refusing policies
(5.7.1) for chosen leads throughout. Each test below asserts one property of that run;
the whole report is in every failure message. The scale-out form (two workers, two APIs,
PostgreSQL, one worker and one API killed) must show all of them at once, and the
concurrent-start trial brings a worker and two APIs up together on fresh databases.

`bench/chaos.py` runs the same harness by hand, longer and larger; `pytest -m "not chaos"`
leaves these tests out.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chaos.faults import Windows
from tests.chaos.harness import ChaosRun, Options, run_chaos
from tests.chaos.report import report
from tests.chaos.site import Layout
from tests.chaos.starts import start_together
from tests.chaos.verdicts import (
    bounded_waits,
    calls_kept,
    emails_once,
    nothing_stuck,
    quick_recovery,
    tasks_once,
    unknown_per_kill,
    verdicts,
)
from tests.engine.store.conftest import POSTGRES_MISSING, POSTGRES_URL_VARIABLE

pytestmark = pytest.mark.chaos

SHORT_FORM = ["smtp-refusals", "worker-kill", "temporal-kill", "api-kill", "worker-kill",
              "smtp-451", "smtp-outage", "db-lock"]
"""Every scenario, the worker kill twice; the kills first, so a slow recovery has the
windows' time to finish."""


def short_options(layout: Layout, scenarios: list[str]) -> Options:
    """A small run: a new lead a second while the faults come, each fault waiting 11 s at
    most for the last one's recovery, up to four minutes to settle (seconds when all is
    well)."""
    return Options(scenarios=scenarios, layout=layout, rate=1.0, warmup=5.0, settle=11.0,
                   tail=3.0, drain=240.0, windows=Windows(smtp=3.0, lock=3.0,
                                                          temporal_down=1.0))


@pytest.fixture(name="short_run", scope="module")
async def short_run_fixture(tmp_path_factory: pytest.TempPathFactory
                            ) -> AsyncIterator[ChaosRun]:
    """The short form's run, shared by the tests that each assert one property."""
    folder = tmp_path_factory.mktemp("chaos")
    yield await run_chaos(folder, short_options(Layout(), SHORT_FORM))


def failed(run: ChaosRun, problem: str | None) -> str:
    return f"{problem}\n\n{report(run)}\n\nlogs: {run.folder}"


def test_no_acknowledged_call_is_lost_or_left_unapplied(short_run: ChaosRun) -> None:
    assert calls_kept(short_run) is None, failed(short_run, calls_kept(short_run))
    assert short_run.tally.acknowledged == short_run.tally.sent > 0


def test_no_email_goes_out_twice(short_run: ChaosRun) -> None:
    assert emails_once(short_run) is None, failed(short_run, emails_once(short_run))
    assert short_run.tally.delivered > 0


def test_no_lead_is_handed_to_sales_twice(short_run: ChaosRun) -> None:
    assert tasks_once(short_run) is None, failed(short_run, tasks_once(short_run))
    assert short_run.tally.escalations > 0


def test_every_lead_settles_and_no_workflow_is_stuck(short_run: ChaosRun) -> None:
    assert nothing_stuck(short_run) is None, failed(short_run, nothing_stuck(short_run))


def test_a_worker_kill_leaves_at_most_one_email_of_unknown_outcome(
        short_run: ChaosRun) -> None:
    assert unknown_per_kill(short_run) is None, failed(short_run, unknown_per_kill(short_run))


def test_every_restart_drains_its_backlog_within_ten_seconds(short_run: ChaosRun) -> None:
    assert quick_recovery(short_run) is None, failed(short_run, quick_recovery(short_run))


def test_a_locked_database_gets_503_with_retry_after_and_the_producer_retries(
        short_run: ChaosRun) -> None:
    assert bounded_waits(short_run) is None, failed(short_run, bounded_waits(short_run))
    assert short_run.producer.answers.retry_after > 0, failed(
        short_run, "no 503 with Retry-After while the write lock was held")


def test_the_smtp_faults_were_met(short_run: ChaosRun) -> None:
    refused = short_run.smtp_refused
    assert refused["5.1.1"] > 0 and refused["5.7.1"] > 0, failed(short_run, str(refused))
    assert short_run.tally.phases["suppressed"] > 0, failed(short_run, "nobody suppressed")


@pytest.mark.postgres
async def test_scale_out_two_workers_two_apis_on_postgresql_lose_and_double_nothing(
        tmp_path: Path) -> None:
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        pytest.skip(POSTGRES_MISSING)
    layout = Layout(workers=2, apis=2, postgres=server)
    run = await run_chaos(tmp_path, short_options(layout, ["worker-kill", "api-kill"]))

    problems = {name: found for name, found in verdicts(run).items() if found}
    assert not problems, failed(run, "\n".join(f"{name}: {found}"
                                               for name, found in problems.items()))


async def test_a_worker_and_two_apis_started_together_on_a_fresh_database_all_come_up(
        tmp_path: Path) -> None:
    rounds = await start_together(tmp_path, 2)

    failures = [failure for one in rounds for failure in one.failures]
    assert failures == [], "\n\n".join(failures)
    assert all(start.up for one in rounds for start in one.starts)
