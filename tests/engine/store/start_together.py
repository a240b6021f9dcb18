"""Start processes together on one fresh database, each running the schema step processes
run at start, and report how each ended:

    python -m tests.engine.store.start_together FOLDER ROUNDS [POSTGRESQL_URL]

A round's database is a new SQLite file in FOLDER, or a new schema on the PostgreSQL server.

Each round forks three new processes from this clean, single-threaded launcher (so none
waits a second for its imports and they really do start together), releases them at once,
and prints one JSON line: every process's exit code and output, then the database's revision,
how many rows its version table holds and any drift from the models. Two processes run
`nurture db upgrade`, one opens the store as `nurture dev` does (`Store(url, upgrade=True)`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy import text

from engine.store import Store, schema_status
from engine.store.connect import connect, scratch_schema
from engine.store.revisions import model_drift
from worker.cli import app

# Built once here, not in each process, so every process reaches the schema step at once.
NURTURE = typer.main.get_command(app)

PROCESSES = 3


def _start_path(kind: str, url: str) -> int:
    """What one process runs; its exit code."""
    os.environ["NURTURE_DATABASE_URL"] = url
    try:
        if kind == "dev":
            Store(url, upgrade=True).dispose()
            print("opened the store with upgrade=True")
            return 0
        NURTURE.main(["db", "upgrade"], prog_name="nurture")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    except BaseException as err:  # report it as the process's failure
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


def _child(kind: str, url: str, gate: int, log: Path) -> None:
    """In the forked process: wait at the gate, run, exit without running the parent's
    clean-up handlers."""
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.read(gate, 1)
    code = _start_path(kind, url)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def one_round(folder: Path, url: str) -> dict[str, object]:
    """Start the processes together on the database at `url`; how each ended."""
    folder.mkdir(parents=True)
    gate, release = os.pipe()
    kinds = ["upgrade", "upgrade", "dev"][:PROCESSES]
    children: list[tuple[int, str, Path]] = []
    for number, kind in enumerate(kinds):
        log = folder / f"process-{number}.log"
        pid = os.fork()
        if pid == 0:
            os.close(release)
            _child(kind, url, gate, log)
        children.append((pid, kind, log))
    os.close(gate)
    os.write(release, b"go" * PROCESSES)  # every process wakes at once
    os.close(release)
    ended = []
    for pid, kind, log in children:
        _, status = os.waitpid(pid, 0)
        ended.append({"kind": kind, "code": os.waitstatus_to_exitcode(status),
                      "output": log.read_text()})
    return {"url": url, "processes": ended, **_outcome(url)}


def _outcome(url: str) -> dict[str, object]:
    """The database's revision, its version rows and its drift from the models."""
    engine = connect(url)
    try:
        revision = schema_status(engine).revision
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT count(*) FROM alembic_version"))
            return {"revision": revision, "versions": versions.scalar_one(),
                    "drift": [repr(change) for change in model_drift(connection)]}
    finally:
        engine.dispose()


@contextmanager
def fresh_database(folder: Path, server: str | None) -> Iterator[str]:
    """The URL of an empty database: a file in `folder`, or a scratch PostgreSQL schema."""
    if server is None:
        yield f"sqlite:///{folder / 'nurture.db'}"
        return
    with scratch_schema(server, "start_together") as url:
        yield url


def main(argv: list[str]) -> int:
    """Run the rounds, one JSON line each."""
    folder, rounds = Path(argv[0]), int(argv[1])
    server = argv[2] if len(argv) > 2 else None
    for number in range(rounds):
        where = folder / f"round-{number:02d}"
        with fresh_database(where, server) as url:
            print(json.dumps(one_round(where, url)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
