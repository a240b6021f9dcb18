"""The workflow sandbox's code cache: a module imported afresh runs from the code compiled
the first time, until its file changes."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime.code_cache import CodeCache, keep_code


@pytest.fixture(name="package")
def _package(tmp_path: Path) -> Iterator[Path]:
    """A package `cached_pkg` on sys.path with a module `steps`; all traces removed after."""
    folder = tmp_path / "cached_pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "steps.py").write_text("def step():\n    return 'first'\n")
    sys.path.insert(0, str(tmp_path))
    finders = list(sys.meta_path)
    try:
        yield folder
    finally:
        sys.meta_path[:] = finders
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.split(".")[0] == "cached_pkg"]:
            del sys.modules[name]


def fresh_import(name: str) -> object:
    """Import the module anew, as the sandbox does for every workflow run."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_a_module_imported_afresh_reuses_the_code_compiled_the_first_time(
        package: Path) -> None:
    keep_code("cached_pkg")
    first, second = fresh_import("cached_pkg.steps"), fresh_import("cached_pkg.steps")
    assert first is not second  # executed afresh: no module state is shared
    assert first.step.__code__ is second.step.__code__  # type: ignore[attr-defined]


def test_a_changed_file_is_compiled_again(package: Path) -> None:
    keep_code("cached_pkg")
    assert fresh_import("cached_pkg.steps").step() == "first"  # type: ignore[attr-defined]
    source = package / "steps.py"
    source.write_text("def step():\n    return 'second, longer'\n")
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    assert fresh_import("cached_pkg.steps").step() == "second, longer"  # type: ignore[attr-defined]


def test_installing_twice_adds_packages_to_the_one_finder(package: Path) -> None:
    keep_code("cached_pkg")
    keep_code("another_pkg")
    finders = [f for f in sys.meta_path if isinstance(f, CodeCache)]
    assert len(finders) == 1 and finders[0].covers("another_pkg.module")
    assert not finders[0].covers("cached_pkg_other")
