"""Re-record the replay corpus from a release's (or any commit's) own code.

    python -m tests.replay.record --release 0.1.0          # into histories/0.1.0/
    python -m tests.replay.record --commit 1a2b3c --as next  # into histories/next/
    python -m tests.replay.record --release 0.1.0 sales_webhook  # one play only

The commit is checked out as a detached worktree; `plays.py` (from this tree) runs with that
checkout first on `PYTHONPATH`, so the histories are what that commit's workflows command.
Without --release or --commit it records from this working tree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

from tests.releases import ROOT, checkout, release

HERE = Path(__file__).resolve().parent
HISTORIES = HERE / "histories"


def record(tree: Path, out: Path, plays: list[str]) -> None:
    """Run the plays with `tree`'s code and write their histories into `out`."""
    env = dict(os.environ, PYTHONPATH=str(tree), NURTURE_TEMPLATES_DIR=str(tree / "templates"))
    env.pop("NURTURE_PLAYBOOK", None)
    done = subprocess.run([sys.executable, str(HERE / "plays.py"), str(out), *plays],
                          cwd=tree, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"recording failed (exit {done.returncode}); nothing is trusted")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--release", help="a version from releases.toml")
    source.add_argument("--commit", help="any commit in this clone")
    parser.add_argument("--as", dest="label", help="the folder under histories/ "
                        "(default: the release's version, or the commit)")
    parser.add_argument("plays", nargs="*", help="only these plays (default: all)")
    args = parser.parse_args(argv)
    commit = release(args.release).commit if args.release else args.commit
    label = args.label or args.release or (args.commit and args.commit[:12]) or "working-tree"
    out = HISTORIES / label
    with checkout(commit) if commit else nullcontext(ROOT) as tree:
        record(Path(tree), out, args.plays)
    print(f"histories in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
