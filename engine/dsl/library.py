"""The playbook versions this process knows, by content hash.

Lead workflows carry the version of their playbook, not the spec: a worker fills this
library before it polls (from the store's playbook versions, and the playbook it loaded)
and keeps it filled while it runs, and workflow code reads it through `recall`. A version
is its content's hash, so what `recall` answers for a version never changes, and reading
it is as deterministic as carrying the spec. A version the process does not know raises
`UnknownPlaybookVersion`: the lead's workflow task fails, loudly and again on every retry,
until a worker that knows the version picks it up. It never runs another version.
"""

from __future__ import annotations

from engine.dsl.spec import PlaybookSpec

_KNOWN: dict[str, PlaybookSpec] = {}


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


def recall(version: str) -> PlaybookSpec:
    """The spec of a known version."""
    try:
        return _KNOWN[version]
    except KeyError:
        raise UnknownPlaybookVersion(version) from None


def known(version: str) -> bool:
    """Whether this process knows the version."""
    return version in _KNOWN


def specs() -> list[PlaybookSpec]:
    """Every version this process knows."""
    return list(_KNOWN.values())
