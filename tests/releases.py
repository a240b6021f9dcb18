"""Past releases, as listed in `releases.toml`, and their code checked out beside this tree.

The replay corpus recorder, the upgrade test and the migration tests run a past release's
own code: `release_tree` makes a detached `git worktree` of its commit and removes it after.
"""

from __future__ import annotations

import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Release:
    """A released version and the commit it was cut from."""

    version: str
    commit: str


def releases() -> list[Release]:
    """Every release, oldest first."""
    data = tomllib.loads((ROOT / "releases.toml").read_text())
    return [Release(version=r["version"], commit=r["commit"]) for r in data["release"]]


def latest_release() -> Release:
    """The newest release: the one an upgrade starts from."""
    return releases()[-1]


def release(version: str) -> Release:
    """One release by its version."""
    for found in releases():
        if found.version == version:
            return found
    known = ", ".join(r.version for r in releases())
    raise LookupError(f"no release {version!r} in releases.toml (known: {known})")


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def checkout(commit: str) -> Iterator[Path]:
    """A detached worktree of `commit`, removed on exit. The clone must hold that commit
    (a shallow clone does not: fetch with `git fetch --unshallow`)."""
    try:
        _git("cat-file", "-e", f"{commit}^{{commit}}")
    except RuntimeError:
        raise RuntimeError(f"commit {commit} is not in this clone; the release tests need "
                           "the project's history (git fetch --unshallow)") from None
    with tempfile.TemporaryDirectory(prefix="nurture-release-") as folder:
        tree = Path(folder) / "tree"
        _git("worktree", "add", "--detach", "--force", str(tree), commit)
        try:
            yield tree
        finally:
            _git("worktree", "remove", "--force", str(tree))
            _git("worktree", "prune")


@contextmanager
def release_tree(version: str) -> Iterator[Path]:
    """A checkout of a release's commit."""
    with checkout(release(version).commit) as tree:
        yield tree
