"""The local provider in the page: one shared server, started on first use with a progress note."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from components.notices import render_notice
from nexuschat.config import Settings
from nexuschat.i18n import t
from nexuschat.local import (
    INSTALL_COMMAND,
    LocalServer,
    LocalServerError,
    LocalSetup,
    find_setup,
)


@st.cache_resource(show_spinner=False, on_release=lambda server: server.stop())
def _shared_server(model_path: str) -> LocalServer:
    # One server for every session, started here without waiting. It owns its lifecycle (a
    # crash is restarted once for all, by the first session that finds it down); sessions only
    # ask it to be ready and read it. It stops at exit.
    return LocalServer(model_path).start()


def setup() -> LocalSetup:
    """Whether the local model can run here (a few file-system look-ups, no import)."""
    return find_setup()


def missing_text(found: LocalSetup) -> str:
    """How to install what is missing, in the user's language."""
    return t(f"local.missing.{found.missing}", command=INSTALL_COMMAND)


def render_picker_note() -> None:
    """Under the model picker: what the local model is, or how to install it."""
    found = setup()
    if found.available:
        st.caption(t("sidebar.local_note"))
    else:
        st.warning(missing_text(found), icon=":material/download:")


def connect_or_explain(settings: Settings) -> Settings:
    """The chat page's step, once per run: the settings to send with. An API's are as they
    are; the local model's point at its running server (started on first use, under a
    progress message here), or, when it cannot run, the page says why and its run ends."""
    return connect(settings) if settings.is_local else settings


def connect(settings: Settings) -> Settings:
    """`settings` aimed at the running local server, starting it on first use.

    The first caller waits under a progress message; later runs find it ready at once. When
    the model cannot run, this says why and how to fix it, and ends the page's run there.
    """
    found = setup()
    if not found.available:
        st.info(missing_text(found), icon=":material/download:")
        st.stop()
    server = _shared_server(found.model_path)
    if not server.ready:
        with st.status(t("local.starting"), expanded=False) as status:
            st.caption(t("local.starting_detail", count=server.threads))
            try:
                server.ensure_ready()  # (re)starts it for everyone if it is down
            except LocalServerError as exc:
                status.update(label=t("local.failed"), state="error", expanded=True)
                render_notice(exc)  # the server's own output is shown literally
                st.stop()  # the next run tries again: one start for all who ask then
            status.update(label=t("local.ready"), state="complete")
    return replace(settings, base_url=server.base_url, api_key="")
