"""Whose conversations these are, and who may chat: plain rules over plain data."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

LOCAL_OWNER = "local"  # a single-user install: every conversation is this one person's
# `?u=` of links made before the visitor cookie: 24 random bytes in hex.
OLD_LINK_TOKEN = re.compile(r"[0-9a-f]{48}")
# What st.login needs in secrets ([auth], the default provider); checked before offering it.
LOGIN_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret",
              "server_metadata_url")

OPEN = "open"  # anyone may chat
SIGN_IN = "sign_in"  # the deploy requires a login and this visitor has none yet
MISCONFIGURED = "misconfigured"  # a login is required but none can be made


def login_owner(user: Mapping[str, object]) -> str | None:
    """A signed-in user's owner id, from the login's issuer and subject; None if signed out."""
    if not user.get("is_logged_in"):
        return None
    subject = str(user.get("sub") or "").strip()
    if not subject:
        return None
    return f"user:{str(user.get('iss') or '').strip()}:{subject}"


def visitor_owner(token: str) -> str:
    """The owner id of a visitor token: only its digest is ever stored."""
    return f"session:{hashlib.sha256(token.encode()).hexdigest()}"


def old_link_owner(token: str) -> str | None:
    """The owner id an old `?u=` link's token stood for; None if it is not one."""
    return visitor_owner(token) if OLD_LINK_TOKEN.fullmatch(token) else None


def display_name(user: Mapping[str, object]) -> str:
    """What to call a signed-in user: their name, else email, else subject."""
    for claim in ("name", "email", "preferred_username", "sub"):
        value = str(user.get(claim) or "").strip()
        if value:
            return value
    return "?"


ADMINS_SETTING = "NEXUSCHAT_ADMINS"  # login emails or names that see every user's usage


def admin_names(setting: object) -> frozenset[str]:
    """NEXUSCHAT_ADMINS as a set of lower-cased names: a list (secrets), or text separated by
    commas, semicolons or whitespace (the environment)."""
    items = setting if isinstance(setting, list | tuple) else \
        re.split(r"[,;\s]+", str(setting or ""))
    return frozenset(str(item).strip().lower() for item in items if str(item).strip())


def is_admin(user: Mapping[str, object], admins: frozenset[str]) -> bool:
    """Whether a signed-in user is one of the deploy's admins, by login email or name."""
    if not user.get("is_logged_in") or not admins:
        return False
    claims = (user.get(k) for k in ("email", "name", "preferred_username"))
    return any(str(c).strip().lower() in admins for c in claims if c)


def missing_login_keys(auth: Mapping[str, object] | None) -> tuple[str, ...]:
    """The settings st.login needs that `[auth]` lacks (all of them without `[auth]`)."""
    if not auth:
        return LOGIN_KEYS
    return tuple(key for key in LOGIN_KEYS if not str(auth.get(key) or "").strip())


def access(require_login: bool, login_ready: bool, signed_in: bool) -> str:
    """Whether this visitor may chat: OPEN, SIGN_IN first, or MISCONFIGURED (nobody can)."""
    if not require_login or signed_in:
        return OPEN
    return SIGN_IN if login_ready else MISCONFIGURED


def is_true(value: object) -> bool:
    """A yes/no setting: "true", "1", "yes" or "on" (any case) mean yes."""
    return str(value or "").strip().lower() in ("true", "1", "yes", "on")
