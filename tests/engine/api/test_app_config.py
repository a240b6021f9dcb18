"""The API refuses settings that would make it unsafe or useless."""

from __future__ import annotations

import pytest

from engine.api import create_app
from engine.errors import ConfigError
from engine.settings import Settings
from engine.store import Store
from workflows import PLAYBOOK


def test_a_public_api_needs_its_own_signing_secret() -> None:
    settings = Settings(write_keys="k", base_url="https://go.northwind.example")
    with Store.temporary() as store, pytest.raises(ConfigError, match="NURTURE_SECRET"):
        create_app(settings, store=store, playbook=PLAYBOOK, relay=None)


def test_a_public_api_with_a_secret_starts() -> None:
    settings = Settings(write_keys="k", base_url="https://go.northwind.example",
                        secret="a-long-random-secret-for-tests")
    with Store.temporary() as store:
        app = create_app(settings, store=store, playbook=PLAYBOOK, relay=None)
    assert "/v1/batch" in app.openapi()["paths"]


def test_the_api_needs_a_write_key() -> None:
    with Store.temporary() as store, pytest.raises(ConfigError, match="NURTURE_WRITE_KEYS"):
        create_app(Settings(write_keys=" , "), store=store, playbook=PLAYBOOK, relay=None)
