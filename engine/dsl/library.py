"""The playbook versions this process knows, by content hash.

Lead workflows carry the version of their playbook, not the spec: a worker fills this
library before it polls (every version its database keeps) and looks a version up in its
database the first time a lead names one it does not know yet (one primary-key read per
version and process, `load_missing_with`); workflow code reads it through `recall`. A
version is its content's hash, and a spec is only taken under the version it hashes to, so
what `recall` answers for a version never changes: reading it is as deterministic as
carrying the spec. A version nobody has raises `UnknownPlaybookVersion`: the lead's
workflow task fails, loudly and again on every retry, until a worker that knows the version
picks it up. It never runs another version.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.dsl.spec import PlaybookSpec

_KNOWN: dict[str, PlaybookSpec] = {}
_loader: list[Callable[[str], PlaybookSpec | None]] = []


class UnknownPlaybookVersion(LookupError):
    """A lead runs a playbook version this process has not loaded."""

    def __init__(self, version: str) -> None:
        super().__init__(
            f"playbook version {version!r} is not known to this worker: it is neither the "
            "playbook it loaded nor one stored in its database. Start the worker with the "
            "database the API uses (the API stores every version it starts leads on), or "
            "deploy the playbook code that has this version.")
        self.version = version


def remember(spec: PlaybookSpec) -> str:
    """Know this version from now on; its version."""
    _KNOWN.setdefault(spec.version, spec)
    return spec.version


def load_missing_with(loader: Callable[[str], PlaybookSpec | None]) -> None:
    """Where to look up a version this process does not know (a worker's database)."""
    _loader[:] = [loader]


def recall(version: str) -> PlaybookSpec:
    """The spec of a version: known, or found by the loader."""
    spec = _KNOWN.get(version)
    if spec is None and _loader:
        try:
            found = _loader[0](version)
        except Exception as err:  # the database is away: the task fails and is retried
            raise UnknownPlaybookVersion(version) from err
        if found is not None and found.version == version:
            spec = _KNOWN.setdefault(version, found)
    if spec is None:
        raise UnknownPlaybookVersion(version)
    return spec


def known(version: str) -> bool:
    """Whether this process knows the version."""
    return version in _KNOWN


def specs() -> list[PlaybookSpec]:
    """Every version this process knows."""
    return list(_KNOWN.values())
