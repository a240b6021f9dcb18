"""What the operator commands (`nurture tasks`, `nurture sends`) read: the environment,
and for what it leaves unset the folder `nurture dev --data-dir` uses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.errors import ConfigError
from worker.dev_addresses import DEFAULT_DATA_DIR

if TYPE_CHECKING:
    from engine.settings import Settings

DataDirOption = Annotated[Path | None, typer.Option(
    "--data-dir", help="The folder `nurture dev --data-dir` uses (its database, and its "
                       "Temporal server while it runs) [default: .nurture]",
    file_okay=False)]


def settings_for(data_dir: Path | None) -> Settings:
    """The settings `nurture dev --data-dir` would give its own processes, for what the
    environment leaves unset: the folder's database, the running stack's Temporal server
    and address. `NurtureError` when there is no database to read."""
    from engine.settings import load_settings
    from worker.dev_addresses import running

    settings = load_settings()
    given, folder = settings.model_fields_set, data_dir or DEFAULT_DATA_DIR
    update: dict[str, Any] = {}
    if "database_url" not in given:
        database = folder / "nurture.db"
        if not database.is_file():
            where = (f"--data-dir {folder} holds no nurture database" if data_dir else
                     f"there is no nurture database in {folder}/ (the default data folder)")
            raise ConfigError(f"{where}. Pass --data-dir with the folder `nurture dev "
                              "--data-dir` uses, set NURTURE_DATABASE_URL, or start "
                              "`nurture dev` there first")
        update["database_url"] = f"sqlite:///{database}"
    dev = running(folder)
    if dev is not None:
        if "temporal_address" not in given:
            update["temporal_address"] = dev.temporal_address
        if "base_url" not in given:
            update["base_url"] = dev.api_url
    return settings.model_copy(update=update)
