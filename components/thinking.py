"""The thinking switch, beside the model picker: for models whose catalog entry takes one."""

from __future__ import annotations

import streamlit as st

from components import state
from nexuschat.i18n import t
from nexuschat.models import Thinking

BUDGET_STEP = 1024


def render_thinking(control: Thinking | None) -> None:
    """Model default / On / Off, and a token budget while on, for a model that takes one.

    Model default sends nothing, so a model whose default nobody here knows for sure (Qwen3
    thinks by default when self-hosted, not on DashScope) keeps it.
    """
    if control is None:
        return
    labels = {c: t(f"sidebar.thinking.{c}") for c in state.THINKING_CHOICES}  # this language
    st.segmented_control(t("sidebar.thinking"), state.THINKING_CHOICES, key="w_thinking",
                         required=True, format_func=labels.__getitem__,
                         help=t("sidebar.thinking_help"), width="stretch")
    if control == "budget" and st.session_state.get("w_thinking") == "on":
        st.number_input(t("sidebar.thinking_budget"), key="w_thinking_budget", min_value=1,
                        step=BUDGET_STEP, help=t("sidebar.thinking_budget_help"))
