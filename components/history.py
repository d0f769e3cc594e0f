"""The conversation on screen: the latest messages, each with its controls."""

from __future__ import annotations

import streamlit as st

from components import branches, live_reply, state
from components.messages import render_message, render_show_earlier
from nexuschat.conversation import Conversation
from nexuschat.i18n import t
from nexuschat.turns import TurnKind, retry_kind


def render_history(conversation: Conversation, *, model: str, pending: str | None,
                   show_empty_hint: bool) -> None:
    """Draw the shown branch (its latest messages; older ones on demand)."""
    shown = conversation.messages
    if pending == "retry" and conversation.last and conversation.last.status == "error":
        shown = shown[:-1]  # the failed reply is about to be replaced by the retry
    if not shown and show_empty_hint:
        st.caption(t("chat.empty"))
    hidden = max(0, len(shown) - st.session_state[state.HISTORY_WINDOW])
    render_show_earlier(hidden)
    editing = st.session_state.get(branches.EDITING)
    busy = pending is not None
    for index, message in enumerate(shown[hidden:], start=hidden):
        render_message(
            message,
            model=model,
            is_last=index == len(shown) - 1 and not busy,
            on_retry=live_reply.request_retry,
            on_continue=live_reply.request_continue,
            editor=(lambda m=message: branches.render_editor(m)) if message.id == editing
            else None,
            after=lambda m=message: (branches.render_sibling_nav(conversation, m),
                                     branches.render_message_actions(m, busy=busy)),
        )


def take_pending() -> str | None:
    """The turn asked for by the last action (send, Retry, Continue, regenerate), once."""
    pending = st.session_state[state.PENDING]
    st.session_state[state.PENDING] = None
    return pending


def turn_to_run(pending: str | None, conversation: Conversation) -> TurnKind | None:
    """What to send now; a Retry first waits out the server's Retry-After."""
    if pending != "retry":
        return pending
    last = conversation.last
    live_reply.wait_for_retry_after(last.meta.error_params.get("retry_not_before")
                                    if last and last.meta else None)
    return retry_kind(conversation)
