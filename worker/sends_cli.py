"""`nurture sends …`: emails whose outcome a crash left unknown, and their re-send.

    nurture sends unknown                  # list them (oldest first)
    nurture sends resend 'lead-42:welcome' # re-send one, after deciding it never arrived

An email is sent at most once: when a worker dies (or the connection drops) while a message
is going out, nobody knows whether the server took it, so the engine does not send it
again and lists it here; `/health` counts them. Ask the recipient or the mail server's log,
then re-send what did not arrive: the re-send is the very message (same Message-ID), and
is refused for an address suppressed since. Exit codes: 0 done, 1 refused or failed.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from engine.errors import NurtureError
from worker.cli_settings import DataDirOption, settings_for

sends_app = typer.Typer(help="Emails whose outcome is unknown after a crash: list them, "
                             "re-send one.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@sends_app.command("unknown")
def list_unknown(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Emails that may or may not have gone out, oldest first."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from worker.serve import open_store
    from worker.terminal import shown

    try:
        store = open_store(settings_for(data_dir))
    except NurtureError as err:
        raise _fail(str(err)) from None
    try:
        rows, total = store.unknown_sends(limit), store.count_unknown_sends()
    finally:
        store.dispose()
    if as_json:
        typer.echo(json.dumps({"total": total, "sends": [
            {"key": r.key, "lead_id": r.lead_id, "to": r.to_address, "template": r.template,
             "subject": r.subject, "message_id": r.message_id,
             "claimed_at": r.created_at.isoformat(), "why": r.error,
             "resendable": bool(r.message)}
            for r in rows]}, indent=2))
        return
    if not rows:
        typer.echo("No emails with an unknown outcome.")
        return
    table = Table(box=box.SIMPLE_HEAD, title_justify="left",
                  title=f"{len(rows)} of {total} emails with an unknown outcome")
    for name in ("send", "to", "template", "subject", "claimed (UTC)"):
        table.add_column(name, overflow="fold")
    for r in rows:  # lead-controlled text: never read as markup or escape sequences
        table.add_row(shown(r.key), shown(r.to_address), shown(r.template), shown(r.subject),
                      r.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
    Console().print(table)
    typer.echo("Re-send one that did not arrive: nurture sends resend KEY")


@sends_app.command("resend")
def resend(key: Annotated[str, typer.Argument(help="The send's key, from `nurture sends "
                                                   "unknown`.")],
           data_dir: DataDirOption = None) -> None:
    """Re-send one unknown-outcome email, exactly as it first went out."""
    from rich.console import Console
    from rich.text import Text

    from engine.runtime.delivery import resend_unknown
    from worker.assembly import smtp_from
    from worker.serve import open_store
    from worker.terminal import plain, shown

    try:
        settings = settings_for(data_dir)
        transport = smtp_from(settings)
        store = open_store(settings)
    except NurtureError as err:
        raise _fail(str(err)) from None

    async def work() -> str:
        try:
            return await resend_unknown(store, transport, key, now=datetime.now(UTC))
        finally:
            await transport.close()

    try:
        address = asyncio.run(work())
    except NurtureError as err:
        raise _fail(plain(str(err))) from None
    finally:
        store.dispose()
    Console().print(Text.assemble("Re-sent ", shown(key), " to ", shown(address), "."))
