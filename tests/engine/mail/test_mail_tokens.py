"""Signed tokens behind one-click unsubscribe links."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.mail import sign_token, unsubscribe_url, verify_token

SECRET = "a-long-random-server-secret"


def test_token_round_trips_its_value() -> None:
    token = sign_token("lead_0001", SECRET)

    assert verify_token(token, SECRET) == "lead_0001"


def test_token_is_safe_in_a_url_path() -> None:
    token = sign_token("lead/with spaces?&=é", SECRET)

    assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()
    assert verify_token(token, SECRET) == "lead/with spaces?&=é"


def test_token_with_a_changed_value_is_rejected() -> None:
    token = sign_token("lead_0001", SECRET)
    forged_value = sign_token("lead_0002", SECRET).split(".")[0]

    assert verify_token(forged_value + "." + token.split(".")[1], SECRET) is None


def test_token_with_a_changed_signature_is_rejected() -> None:
    token = sign_token("lead_0001", SECRET)
    last = token[-1]
    tampered = token[:-1] + ("A" if last != "A" else "B")

    assert verify_token(tampered, SECRET) is None


def test_token_signed_with_another_secret_is_rejected() -> None:
    assert verify_token(sign_token("lead_0001", "another-secret"), SECRET) is None


@pytest.mark.parametrize("garbage", ["", ".", "abc", "abc.", ".abc", "é.é", "a.b.c", "%%%.%%%"])
def test_garbage_is_rejected_without_raising(garbage: str) -> None:
    assert verify_token(garbage, SECRET) is None


def test_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="secret"):
        sign_token("lead_0001", "")


def test_unsubscribe_url_carries_a_verifiable_token() -> None:
    url = unsubscribe_url("https://nurture.northwind.example/", "lead_0001", SECRET)

    prefix, token = url.rsplit("/", 1)
    assert prefix == "https://nurture.northwind.example/u"
    assert verify_token(token, SECRET) == "lead_0001"
