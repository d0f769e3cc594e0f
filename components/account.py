"""Signing in and out (st.login / st.logout), and the page shown when a login is required."""

from __future__ import annotations

import streamlit as st

from components import identity as who
from nexuschat import identity
from nexuschat.i18n import t
from nexuschat.safe_text import plain_text


def _login_problem() -> str:
    missing = identity.missing_login_keys(who.auth_section())
    if not who.login_offered():
        return t("account.problem.no_auth")
    return t("account.problem.missing", keys=", ".join(missing))


def render_account() -> None:
    """The sidebar's account lines: who is signed in and Sign out, or Sign in."""
    if who.login_owner():
        # The name is the provider's claim, which its user chose: rendered literally.
        st.caption(t("account.signed_in_as", who=plain_text(identity.display_name(who.user()))))
        st.button(t("account.sign_out"), key="sign-out", on_click=who.sign_out,
                  icon=":material/logout:", width="stretch")
        return
    if who.login_ready():
        st.button(t("account.sign_in"), key="sign-in", on_click=st.login,
                  icon=":material/login:", width="stretch")
        st.caption(t("account.sign_in_help"))
    elif who.login_offered():
        st.caption(t("account.unavailable", problem=_login_problem()))
    if not who.owner_lasts():
        st.caption(t("account.visit_only"))


def render_gate(reason: str) -> None:
    """The whole page while this visitor may not chat: why, and Sign in when it can work."""
    st.title(t("app.title"))
    if reason == identity.SIGN_IN:
        st.info(t("gate.sign_in"), icon=":material/lock:")
        st.button(t("account.sign_in"), key="gate-sign-in", on_click=st.login, type="primary",
                  icon=":material/login:")
    else:
        st.error(t("gate.misconfigured", problem=_login_problem()), icon=":material/error:")
