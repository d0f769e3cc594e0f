"""The conversation on screen: the latest messages, each with its controls, and the turn."""

from __future__ import annotations

import streamlit as st

from components import branches, candidates, live_reply, state
from components.messages import render_message, render_show_earlier
from nexuschat.candidates import shown_group
from nexuschat.config import Settings
from nexuschat.conversation import Conversation, Message
from nexuschat.i18n import t
from nexuschat.models import Thinking
from nexuschat.params import GenerationParams
from nexuschat.turns import TurnKind, redrawn_by_turn, retry_not_before, turn_for


def render_history(conversation: Conversation, *, model: str, pending: str | None,
                   show_empty_hint: bool) -> None:
    """Draw the shown branch (its latest messages; older ones on demand), with the controls.

    A control clicked while a reply streams below ends that reply (its text is kept, as with
    Stop) and then does what it says.
    """
    shown = conversation.messages
    if redrawn_by_turn(conversation, turn_for(pending, conversation)):
        shown = shown[:-1]  # the turn's bubble draws it: answered again, or continued
    if not shown and show_empty_hint:
        st.caption(t("chat.empty"))
    hidden = max(0, len(shown) - st.session_state[state.HISTORY_WINDOW])
    render_show_earlier(hidden)
    editing = st.session_state.get(branches.EDITING)
    group = shown_group(candidates.group(), conversation) if pending is None else None
    for index, message in enumerate(shown[hidden:], start=hidden):
        if group is not None and index == len(shown) - 1:
            candidates.render_group(group, message.id, on_retry=live_reply.request_retry,
                                    on_regenerate=branches.regenerate)
            continue
        _bubble(message, conversation, model, is_last=index == len(shown) - 1 and pending is None,
                editing=message.id == editing)


def shown(conversation: Conversation) -> tuple[Message, ...]:
    """The messages the page draws (the latest ones; older ones on demand)."""
    return conversation.messages[-st.session_state[state.HISTORY_WINDOW]:]


def _bubble(message: Message, conversation: Conversation, model: str, *, is_last: bool,
            editing: bool = False) -> None:
    """A message with its controls: versions, edit or regenerate, Retry / Continue if last."""
    def controls() -> None:
        branches.render_sibling_nav(conversation, message)
        branches.render_message_actions(message)

    render_message(
        message,
        model=model,
        is_last=is_last,
        on_retry=live_reply.request_retry,
        on_continue=live_reply.request_continue,
        editor=(lambda: branches.render_editor(message)) if editing else None,
        after=controls,
        single_control=len(conversation.siblings.get(message.id, ())) < 2,
    )


def run_turn(kind: TurnKind, settings: Settings, params: GenerationParams, *,
             vision: bool, thinking: Thinking | None = None) -> None:
    """Stream the reply into a new bubble, then draw it as stored, with its controls."""
    bubble = st.empty()
    conversation = live_reply.run_turn(kind, settings, params, bubble, vision=vision,
                                       thinking=thinking)
    if conversation.last is None:
        return
    if group := shown_group(candidates.group(), conversation):
        # Emptied first: a block drawn over a block of its kind keeps the old one's children
        # past what the new one draws, and the candidates' streaming columns are laid out
        # unlike the finished ones.
        bubble.empty()
        with bubble.container():
            candidates.render_group(group, conversation.last.id,
                                    on_retry=live_reply.request_retry,
                                    on_regenerate=branches.regenerate)
        return
    with bubble.container():
        _bubble(conversation.last, conversation, settings.model, is_last=True)


def take_pending() -> str | None:
    """The turn asked for by the last action (send, Retry, Continue, regenerate), once."""
    pending = st.session_state[state.PENDING]
    st.session_state[state.PENDING] = None
    return pending


def turn_to_run(pending: str | None, conversation: Conversation) -> TurnKind | None:
    """What to send now; a Retry first waits out the server's Retry-After."""
    if pending == "retry":
        live_reply.wait_for_retry_after(retry_not_before(conversation))
    return turn_for(pending, conversation)
