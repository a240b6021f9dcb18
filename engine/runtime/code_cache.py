"""Compiled code kept in memory for the modules the workflow sandbox imports again and again.

The sandbox imports a workflow's own modules afresh for every run: every new lead, every
continue-as-new. Python takes their code from `__pycache__` when it may; where no bytecode
is written (`PYTHONDONTWRITEBYTECODE`, an editable or read-only install) it compiles the
source every time, which cost a new lead ~10 ms of worker CPU for `engine.runtime`'s
workflow modules. This finder keeps each such module's code object after its first load:
a module is executed afresh in every run as before, from the same code. A file whose size
or modification time changed is read again.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType

_CODES: dict[str, tuple[tuple[int, int], CodeType]] = {}


class _CachedSourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader that compiles (or reads the bytecode of) each file once."""

    def get_code(self, fullname: str) -> CodeType:
        """The module's code: from memory while the file is unchanged."""
        path = self.get_filename(fullname)
        stat = os.stat(path)
        key = (stat.st_mtime_ns, stat.st_size)
        known = _CODES.get(path)
        if known is not None and known[0] == key:
            return known[1]
        code = super().get_code(fullname)
        if code is None:  # pragma: no cover - a source loader always has code
            raise ImportError(f"no code for {fullname}")
        _CODES[path] = (key, code)
        return code


class CodeCache(MetaPathFinder):
    """Finds the modules under `packages` as the path finder does, with cached code."""

    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = tuple(packages)

    def covers(self, name: str) -> bool:
        """Whether the module is one whose code is kept."""
        return any(name == p or name.startswith(p + ".") for p in self.packages)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        """The path finder's spec, with a caching loader for source files we cover."""
        if not self.covers(fullname) or path is None:
            return None  # top-level packages come from whoever installed them
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        loader = spec.loader if spec is not None else None
        if not isinstance(loader, importlib.machinery.SourceFileLoader) \
                or type(loader) is not importlib.machinery.SourceFileLoader:
            return spec
        assert spec is not None
        spec.loader = _CachedSourceLoader(fullname, loader.path)
        return spec


def keep_code(*packages: str) -> None:
    """Keep the code of the modules under these packages in memory (idempotent)."""
    for finder in sys.meta_path:
        if isinstance(finder, CodeCache):
            finder.packages = tuple(dict.fromkeys([*finder.packages, *packages]))
            return
    sys.meta_path.insert(0, CodeCache(packages))
