"""Who is using this session: a login (st.user), the single local user, or a hosted visitor
known by the signed HttpOnly cookie that `nexuschat.visitor.VisitorCookieMiddleware` set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import streamlit as st

from components import state
from nexuschat import identity, visitor
from nexuschat.store import data_dir

VISITOR = "visitor"  # nexuschat.visitor.Visitor: this browser's identity without a login
# str: whose conversations these are. Fixed for a session: signing in arrives in a new session
# (the provider redirects back), and signing out forgets it (`sign_out`). Read for every store
# call, so worked out once (`identify`): st.user alone costs ~0.2 ms a read.
OWNER = "owner"


@st.cache_resource(show_spinner=False)
def _secret(configured: str, login_secret: str, folder: str) -> str:
    # Once per process (and per configuration): the data-dir secret is a file read.
    return visitor.resolve_secret(configured, login_secret, Path(folder))


def cookie_secret() -> str:
    """The visitor cookie's signing secret; also called by the middleware, outside any run."""
    login_secret = str(auth_section().get("cookie_secret") or "")
    return _secret(state.setting(visitor.SECRET_ENV), login_secret, str(data_dir()))


def auth_section() -> Mapping[str, object]:
    """The `[auth]` section of the secrets as a plain dict; empty when there is none."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - no or malformed secrets: no login
        return {}
    if not isinstance(section, Mapping):
        return {}
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in section.items()}


def login_offered() -> bool:
    """Whether the deploy has an `[auth]` section (complete or not)."""
    return bool(auth_section())


def login_ready() -> bool:
    """Whether `[auth]` has everything st.login needs."""
    return login_offered() and not identity.missing_login_keys(auth_section())


def user() -> dict[str, object]:
    """st.user as a plain dict."""
    return dict(st.user.to_dict())


def is_admin() -> bool:
    """Whether the signed-in user is listed in NEXUSCHAT_ADMINS (no login: nobody is)."""
    if not login_owner():
        return False
    setting = state.secrets().get(identity.ADMINS_SETTING) or os.environ.get(
        identity.ADMINS_SETTING, "")
    return identity.is_admin(user(), identity.admin_names(setting))


def login_owner() -> str | None:
    """The signed-in user's owner id, or None."""
    return identity.login_owner(user())


def is_local() -> bool:
    """Whether this is a single-user install (NEXUSCHAT_MODE, else a loopback-only server)."""
    return not state.deployment().hosted


def _browser_visitor() -> visitor.Visitor:
    """This browser's visitor: from the signed cookie, else made up for this visit only
    (no cookie: AppTest, the router run without the App, or a browser refusing cookies)."""
    cookies = st.context.cookies.to_dict()
    found = None
    if visitor.COOKIE_NAME in cookies or visitor.SECURE_COOKIE_NAME in cookies:
        found = visitor.visitor_from_cookies(cookies, cookie_secret())
    return found or visitor.Visitor(visitor.new_token(), lasting=False)


def identify() -> str:
    """The router's step, before anything asks whose it is: who this session is, worked out
    once per session and kept (the owner; a visitor without a login, its visitor too)."""
    known = st.session_state.get(OWNER)
    if known is None:
        login = login_owner()
        if login:
            known = login
        elif is_local():
            known = identity.LOCAL_OWNER
        else:
            if st.session_state.get(VISITOR) is None:
                st.session_state[VISITOR] = _browser_visitor()
            known = identity.visitor_owner(st.session_state[VISITOR].token)
        st.session_state[OWNER] = known
    return known


def owner() -> str:
    """A login's id; else "local" on a single-user install; else this browser's visitor (as
    `identify` worked it out for this session)."""
    known = st.session_state.get(OWNER)
    if known is None:
        raise RuntimeError("identity.identify() runs first: the router calls it every run")
    return known


def sign_out() -> None:
    """End the login (st.logout); this session's owner is worked out again."""
    st.session_state.pop(OWNER, None)
    st.logout()


def owner_lasts() -> bool:
    """Whether the current owner outlives this visit (a login, local mode, or the cookie)."""
    if login_owner() or is_local():
        return True
    known: visitor.Visitor | None = st.session_state.get(VISITOR)  # as `identify` found it
    return known is not None and known.lasting


def require_login() -> bool:
    """NEXUSCHAT_REQUIRE_LOGIN: no chat before signing in."""
    return identity.is_true(state.setting("NEXUSCHAT_REQUIRE_LOGIN"))


def access() -> str:
    """identity.OPEN, SIGN_IN or MISCONFIGURED for this session."""
    return identity.access(require_login(), login_ready(), bool(login_owner()))
