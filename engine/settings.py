"""Settings from the environment (`NURTURE_*`, plus Temporal's standard `TEMPORAL_*`)."""

from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.dsl.spec import PlaybookSpec
from engine.errors import ConfigError

DEV_SECRET = "dev-only-secret-change-me"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
REPO_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Settings(BaseSettings):
    """Everything the worker and the simulator read from the environment."""

    model_config = SettingsConfigDict(env_prefix="NURTURE_", extra="ignore")

    database_url: str = "sqlite:///.nurture/nurture.db"
    playbook: str = "workflows:PLAYBOOK"
    templates_dir: Path = REPO_TEMPLATES
    task_queue: str = "nurture"
    base_url: str = "http://127.0.0.1:8000"
    secret: SecretStr = SecretStr(DEV_SECRET)

    sender_name: str = "Maya Chen"
    sender_title: str = "Head of Customer Education"
    sender_company: str = "Northwind Analytics"
    sender_product: str = "Northwind"
    sender_email: str = "maya@northwind.example"
    sender_website: str = "https://northwind.example"
    sender_address: str = ("Northwind Analytics, 500 Market Street, Suite 400, "
                           "San Francisco, CA 94105, USA")
    sales_ops_name: str = Field(default="Northwind Sales Ops", description="Who notices to "
                                "sales reps (a new task, a breach, a re-tier) come from: "
                                "not the marketing persona leads hear from.")
    sales_ops_email: str = Field(default="sales-ops@northwind.example", description="The "
                                 "address those notices come from (reps reply to it).")

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False
    smtp_starttls: bool | None = None

    write_keys: str = Field(default="", description="Comma-separated write keys the HTTP API "
                            "accepts (Segment-style); empty means the API refuses to start.")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_url: str | None = Field(default=None, description="Where `nurture event send` finds "
                                "the API; defaults to NURTURE_BASE_URL.")
    ingest_backlog_limit: int = Field(default=1_000_000, ge=1, description="Accepted but "
                                      "undelivered events above which the API answers 503.")
    ingest_max_inflight: int = Field(default=256, ge=1, description="Concurrent ingest "
                                     "requests above which the API answers 429.")
    api_database_wait: float = Field(default=3.0, gt=0, description="Seconds an API request "
                                     "waits for the database's write lock (SQLite) before "
                                     "answering 503 with Retry-After.")
    scanner_click_seconds: float = Field(default=10.0, ge=0, description="A click this soon "
                                         "after delivery is taken for a link scanner.")

    webhook_url: str | None = Field(default=None, description="Where sales-task events are "
                                    "POSTed as signed JSON; unset means no webhook.")
    webhook_secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 key for "
                                             "the webhook signature; defaults to NURTURE_SECRET.")

    # The worker's share of one machine. Defaults are sized for 2 cores; see the README's
    # "Running it" section for when to change them.
    worker_max_cached_workflows: int = Field(default=600, ge=0, description="Lead runs kept "
                                             "in memory between their workflow tasks; each "
                                             "costs ~0.4 MiB; 0 replays every task.")
    worker_max_concurrent_workflow_tasks: int = Field(default=8, ge=2, description="Workflow "
                                                      "tasks processed at once.")
    worker_max_concurrent_activities: int = Field(default=32, ge=1, description="Activities "
                                                  "run at once.")
    worker_workflow_pollers: int = Field(default=6, ge=2, description="Most long polls for "
                                         "workflow tasks at once (sticky and shared queue).")
    worker_activity_pollers: int = Field(default=4, ge=1, description="Most long polls for "
                                         "activity tasks at once.")
    worker_nonsticky_poll_ratio: float = Field(default=0.2, gt=0, le=1, description="Share "
                                               "of the workflow pollers on the shared queue, "
                                               "where new leads' first tasks wait.")
    worker_sticky_timeout: float = Field(default=3.0, gt=0, description="Seconds a cached "
                                         "lead's next workflow task waits for the worker that "
                                         "caches it before any worker may take it.")

    worker_gc_threshold: int = Field(default=10_000, ge=0, description="Allocations between "
                                     "young garbage collections (Python's default is 700, "
                                     "which makes a worker holding many leads collect all the "
                                     "time); 0 keeps Python's defaults.")

    worker_workflow_sandbox: bool = Field(default=False, description="Run lead workflows in "
                                          "Temporal's sandbox (2.7-3 times the CPU a "
                                          "workflow task; the tests replay inside it).")

    relay_start_wait: float = Field(default=5.0, gt=0, description="Seconds new workflows' "
                                    "first tasks may wait on the task queue before the relay "
                                    "starts fewer.")
    relay_max_starts_per_second: float = Field(default=200.0, gt=0, description="Most "
                                               "workflows the relay starts per second.")

    temporal_address: str = Field(default="localhost:7233", validation_alias=AliasChoices(
        "TEMPORAL_ADDRESS", "NURTURE_TEMPORAL_ADDRESS"))
    temporal_namespace: str = Field(default="default", validation_alias=AliasChoices(
        "TEMPORAL_NAMESPACE", "NURTURE_TEMPORAL_NAMESPACE"))
    temporal_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices(
        "TEMPORAL_API_KEY", "NURTURE_TEMPORAL_API_KEY"))


    @property
    def write_key_list(self) -> list[str]:
        """The accepted write keys."""
        return [key.strip() for key in self.write_keys.split(",") if key.strip()]

    def check_secret(self) -> None:
        """Refuse the built-in signing secret anywhere but on this machine: with it, anyone
        could forge unsubscribe and tracking links."""
        host = urlsplit(self.base_url).hostname or ""
        if self.secret.get_secret_value() == DEV_SECRET and host not in LOOPBACK_HOSTS:
            raise ConfigError(f"NURTURE_SECRET is not set but NURTURE_BASE_URL ({self.base_url}) "
                              "is public; set NURTURE_SECRET to a long random value, e.g. "
                              "the output of: python3 -c 'import secrets; "
                              "print(secrets.token_urlsafe(32))'")

    @property
    def api_base(self) -> str:
        """Where clients reach the API."""
        return (self.api_url or self.base_url).rstrip("/")


def load_settings() -> Settings:
    """Read settings; a bad value becomes a ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(
            f"{'NURTURE_' + str(e['loc'][0]).upper() if e['loc'] else '?'}: {e['msg']}"
            for e in err.errors())
        raise ConfigError(f"bad setting — {problems}") from None


def load_playbook(reference: str) -> PlaybookSpec:
    """Import a playbook named like 'package.module:NAME'."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"playbook reference {reference!r} must look like 'module:NAME', "
                          "e.g. 'workflows:PLAYBOOK'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"cannot import playbook module {module_name!r}: {err}") from err
    spec = getattr(module, attribute, None)
    if not isinstance(spec, PlaybookSpec):
        raise ConfigError(f"{reference!r} is not a playbook (build it with engine.dsl.playbook)")
    return spec
