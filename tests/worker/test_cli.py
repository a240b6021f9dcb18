"""The `nurture` command line as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NURTURE = Path(sys.executable).parent / "nurture"


def nurture(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(NURTURE), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def test_tracks_check_passes_on_the_shipped_playbook() -> None:
    done = nurture("tracks", "check")
    assert done.returncode == 0, done.stderr
    assert "ok: 16 tracks" in done.stdout


def test_tracks_check_warns_of_an_unrouted_track_and_a_pre_empted_wait_for() -> None:
    done = nurture("tracks", "check", "--playbook", "tests.fixtures.lint_playbook:PLAYBOOK")
    assert done.returncode == 0, done.stderr  # warnings, not errors
    assert "warning: track 'orphan': nothing routes leads to it" in done.stdout
    assert "warning: trigger 'pricing' (move) pre-empts track 'welcome' step 'listen'" \
        in done.stdout


def test_tracks_check_fails_usefully_on_an_unknown_template() -> None:
    done = nurture("tracks", "check", "--playbook", "tests.fixtures.broken_playbook:BROKEN")
    assert done.returncode == 1
    assert "track 'oops', step 'hello'" in done.stderr
    assert "no_such_template" in done.stderr and "fix:" in done.stderr


def test_tracks_check_fails_when_a_template_cannot_render() -> None:
    done = nurture("tracks", "check", "--playbook",
                   "tests.fixtures.bad_template_playbook:PLAYBOOK")
    assert done.returncode == 1
    assert "t.replay" in done.stderr and "takeaway" in done.stderr


def test_tracks_list_and_show() -> None:
    listed = nurture("tracks", "list")
    assert listed.returncode == 0 and "webinar_follow_up" in listed.stdout
    shown = nurture("tracks", "show", "webinar_follow_up")
    assert "send webinar_replay" in shown.stdout and "wait for" in shown.stdout
    spec = json.loads(nurture("tracks", "show", "webinar_follow_up", "--json").stdout)
    assert spec["name"] == "webinar_follow_up" and spec["version"]
    missing = nurture("tracks", "show", "nope")
    assert missing.returncode == 1 and "no track 'nope'" in missing.stderr


def test_simulate_prints_json_lines_for_90_days() -> None:
    # How fast is bench/simulate.py's to say (a timed test fails on a loaded machine).
    done = nurture("simulate", "examples/webinar_attendee.json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["kind"] == "enrolled"
    assert {"at", "day", "kind"} <= set(lines[1])
    assert any(line["kind"] == "escalation" for line in lines)


def test_malformed_scenario_exits_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"lead": {"id": "x", "email": "a@b.io"},
                               "events": [{"at": "P1D", "type": "ok"},
                                          {"at": "yesterday", "type": "x"}]}))
    done = nurture("simulate", str(bad))
    assert done.returncode == 2
    assert "events[1].at" in done.stderr
    missing_email = tmp_path / "m.json"
    missing_email.write_text(json.dumps({"lead": {"id": "x"}}))
    done = nurture("simulate", str(missing_email))
    assert done.returncode == 2 and "lead.email" in done.stderr


def test_the_command_line_loads_no_web_stack_until_a_command_needs_it() -> None:
    """`nurture simulate` and the other offline commands start without FastAPI, uvicorn or
    the API code: the CLI module imports them only inside the commands that serve."""
    import subprocess
    import sys

    probe = ("import sys, worker.cli; "
             "print(sorted(m for m in ('fastapi', 'uvicorn', 'engine.api') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
