"""The conversation on screen: the latest messages, each with its controls, and the turn."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components import branches, live_reply, state
from components.messages import render_action_row, render_message, render_show_earlier
from nexuschat.config import Settings
from nexuschat.conversation import Conversation, Message
from nexuschat.i18n import t
from nexuschat.params import GenerationParams
from nexuschat.turns import TurnKind, retry_kind

Deferred = list[tuple[DeltaGenerator, Message]]  # action rows to fill once a reply has streamed


def render_history(conversation: Conversation, *, model: str, pending: str | None,
                   show_empty_hint: bool) -> Deferred:
    """Draw the shown branch (its latest messages; older ones on demand).

    While a turn is about to stream, the controls (edit, regenerate, versions) are not drawn:
    a click would cut the reply short. Their empty rows are returned for `render_controls`.
    """
    shown = conversation.messages
    last = conversation.last
    if last and last.role == "assistant" and (
            (pending == "retry" and last.status == "error") or pending == "continue"):
        shown = shown[:-1]  # redrawn by the turn: replaced by the retry, or continued
    if not shown and show_empty_hint:
        st.caption(t("chat.empty"))
    hidden = max(0, len(shown) - st.session_state[state.HISTORY_WINDOW])
    render_show_earlier(hidden)
    editing = st.session_state.get(branches.EDITING)
    busy = pending is not None
    deferred: Deferred = []
    for index, message in enumerate(shown[hidden:], start=hidden):
        slot = render_message(
            message,
            model=model,
            is_last=index == len(shown) - 1,
            on_retry=live_reply.request_retry,
            on_continue=live_reply.request_continue,
            editor=(lambda m=message: branches.render_editor(m)) if message.id == editing
            else None,
            after=lambda m=message: _controls(conversation, m),
            controls=not busy,
        )
        if slot is not None:
            deferred.append((slot, message))
    return deferred


def _controls(conversation: Conversation, message: Message) -> None:
    branches.render_sibling_nav(conversation, message)
    branches.render_message_actions(message)


def render_controls(deferred: Deferred) -> None:
    """Fill the action rows left empty while a reply streamed (no second run of the page)."""
    conversation = state.conversation()
    last_id = conversation.last.id if conversation.last else None
    for slot, message in deferred:
        render_action_row(message, is_last=message.id == last_id,
                          on_retry=live_reply.request_retry,
                          on_continue=live_reply.request_continue,
                          after=lambda m=message: _controls(conversation, m), into=slot)


def run_turn(kind: TurnKind, settings: Settings, params: GenerationParams, *,
             vision: bool) -> None:
    """Stream the reply into a new bubble, then draw it as stored, with its controls."""
    bubble = st.empty()
    conversation = live_reply.run_turn(kind, settings, params, bubble, vision=vision)
    if conversation.last is None:
        return
    with bubble.container():
        render_message(conversation.last, model=settings.model, is_last=True,
                       on_retry=live_reply.request_retry,
                       on_continue=live_reply.request_continue,
                       after=lambda: _controls(conversation, conversation.last))


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
