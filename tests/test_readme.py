"""README examples run, so they never rot."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_track_example_builds_a_valid_track() -> None:
    blocks = python_blocks()
    assert blocks, "README has no python example"
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    track = namespace["roi_follow_up"]
    assert track.name == "roi_follow_up"  # type: ignore[attr-defined]


def test_readme_quickstart_commands_are_the_ones_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    test_command = re.search(r"```bash\n(python3 -m venv .*pytest)\n```", README)
    assert test_command and test_command.group(1) in ci


def test_every_worker_and_relay_setting_is_documented() -> None:
    from engine.settings import Settings

    tuning = [name for name in Settings.model_fields
              if name.startswith(("worker_", "relay_", "api_database"))]
    assert tuning
    missing = [name for name in tuning if f"`NURTURE_{name.upper()}`" not in README]
    assert not missing, f"README's sizing table lacks {missing}"
