"""Import directions from DESIGN.md: worker -> engine, workflows; workflows -> engine.dsl;
engine never imports workflows or worker; the pure core imports only stdlib and pydantic."""

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE = ["engine/events.py", "engine/leads.py", "engine/scoring.py", "engine/handoff.py",
        "engine/business_hours.py", "engine/routing.py", "engine/feedback.py", "engine/sla.py",
        "engine/phrasing.py",
        "engine/dsl/pages.py",
        "engine/cadence.py", "engine/errors.py", "engine/dsl", "engine/journey",
        "engine/runtime/models.py", "engine/runtime/messages.py"]


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(where: str) -> list[Path]:
    target = ROOT / where
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


def test_engine_never_imports_workflows_or_worker() -> None:
    for path in files("engine"):
        bad = {n for n in imports(path) if n.split(".")[0] in ("workflows", "worker")}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_workflows_import_only_the_dsl() -> None:
    for path in files("workflows"):
        for name in imports(path):
            if name.startswith("engine"):
                assert name.startswith("engine.dsl"), f"{path.relative_to(ROOT)}: {name}"


def test_pure_core_imports_only_stdlib_pydantic_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"pydantic", "engine"}
    for where in PURE:
        for path in files(where):
            for name in imports(path):
                top = name.split(".")[0]
                assert top in allowed, f"{path.relative_to(ROOT)} imports {name}"
                if top == "engine":
                    assert not name.startswith(("engine.store", "engine.mail",
                                                "engine.runtime.activities")), name


# Workflow code and the pure core it runs must never read a clock or draw randomness of
# their own: replaying a lead's history would then take another path.
CLOCKS = re.compile(r"\b(datetime\.(now|utcnow|today)|date\.today|time\.(time|monotonic)|"
                    r"random\.|uuid\.uuid[14]|os\.environ)")
WORKFLOW_CODE = ["engine/runtime/lead_workflow.py", "engine/runtime/lead_effects.py"]


def test_workflow_code_and_the_pure_core_read_no_clock() -> None:
    for where in [*PURE, *WORKFLOW_CODE]:
        for path in files(where):
            found = CLOCKS.search(path.read_text())
            assert found is None, f"{path.relative_to(ROOT)} uses {found.group(0)}"
