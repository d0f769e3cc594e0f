"""Every notice in the page one way: a Problem, ChatError, ParamError, LimitHit, Note... or a
stored error's code and parameters, worded by nexuschat.describe with each text parameter
made literal (it came from outside: a server's message, a host, a file name)."""

from __future__ import annotations

import time

import streamlit as st

from nexuschat import describe
from nexuschat.errors import Notice
from nexuschat.safe_text import plain_text

_ALERTS = {"error": st.error, "warning": st.warning, "info": st.info, "success": st.success}


def error_text(code: str, params: dict) -> str:
    """The user's-language text for a code and its parameters as stored (a reply's error)."""
    return describe.describe(code, params, literal=plain_text, now=time.time())


def notice_text(notice: Notice) -> str:
    """Any notice as the page says it."""
    return error_text(notice.code, notice.params)


def render_notice(notice: Notice, *, kind: str = "error", icon: str | None = None) -> None:
    """One notice in an alert of its kind (error, warning, info or success)."""
    _ALERTS[kind](notice_text(notice), icon=icon)
