"""The rules of who owns what and who may chat (nexuschat.identity)."""

from __future__ import annotations

import hashlib

import pytest

from nexuschat import identity


def test_a_login_is_its_issuer_and_subject():
    user = {"is_logged_in": True, "iss": "https://id.example", "sub": "123", "email": "a@b.c"}
    assert identity.login_owner(user) == "user:https://id.example:123"
    other_issuer = {**user, "iss": "https://other.example"}
    assert identity.login_owner(other_issuer) != identity.login_owner(user)


@pytest.mark.parametrize("user", [
    {},
    {"email": "test@example.com"},  # AppTest's default user: not signed in
    {"is_logged_in": False, "sub": "123"},
    {"is_logged_in": True, "email": "a@b.c"},  # no subject: an email alone is no identity
    {"is_logged_in": True, "sub": "  "},
])
def test_no_login_owner_without_a_signed_in_subject(user):
    assert identity.login_owner(user) is None


def test_a_visitor_owner_is_a_digest_of_the_token_only():
    token = "T" * 32
    owner = identity.visitor_owner(token)
    assert owner == f"session:{hashlib.sha256(token.encode()).hexdigest()}"
    assert token not in owner


def test_old_link_tokens_are_48_hex_digits():
    token = "0123456789abcdef" * 3
    # The same owner id the app used for `?u=` before the cookie.
    assert identity.old_link_owner(token) == identity.visitor_owner(token)
    for bad in ("", token[:-1], token + "0", token.upper(), "g" * 48, f"{token[:47]}/"):
        assert identity.old_link_owner(bad) is None


def test_display_name_prefers_name_then_email():
    assert identity.display_name({"name": "Ada", "email": "ada@x"}) == "Ada"
    assert identity.display_name({"name": " ", "email": "ada@x"}) == "ada@x"
    assert identity.display_name({"sub": "42"}) == "42"


def test_missing_login_keys():
    complete = dict.fromkeys(identity.LOGIN_KEYS, "x")
    assert identity.missing_login_keys(complete) == ()
    assert identity.missing_login_keys(None) == identity.LOGIN_KEYS
    assert identity.missing_login_keys({}) == identity.LOGIN_KEYS
    assert identity.missing_login_keys({**complete, "client_secret": ""}) == ("client_secret",)


@pytest.mark.parametrize(("require", "ready", "signed_in", "expected"), [
    (False, False, False, identity.OPEN),
    (False, True, False, identity.OPEN),
    (True, True, True, identity.OPEN),
    (True, True, False, identity.SIGN_IN),
    (True, False, False, identity.MISCONFIGURED),  # never a silent lock-out
])
def test_access(require, ready, signed_in, expected):
    assert identity.access(require, ready, signed_in) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("true", True), ("TRUE", True), (" 1 ", True), ("yes", True), ("on", True),
    ("false", False), ("0", False), ("", False), (None, False), ("maybe", False),
])
def test_is_true(value, expected):
    assert identity.is_true(value) is expected
