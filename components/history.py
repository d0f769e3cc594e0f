"""The conversation on screen: the latest messages, each with its controls, and the turn."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import streamlit as st

from components import branches, candidates, code_view, live_reply, spend, state
from components.messages import render_message, render_show_earlier
from nexuschat.candidates import CandidateGroup, shown_group
from nexuschat.config import Settings
from nexuschat.conversation import Conversation, Message
from nexuschat.i18n import t
from nexuschat.models import Thinking
from nexuschat.params import GenerationParams
from nexuschat.tool_loop import NO_TOOLS, Toolbox, pending_calls, results_by_reply
from nexuschat.turns import TurnKind, redrawn_tail, retry_not_before, turn_for


def render_history(conversation: Conversation, *, model: str, pending: str | None,
                   show_empty_hint: bool) -> None:
    """Draw the shown branch (its latest messages; older ones on demand), with the controls.

    A control clicked while a reply streams below ends that reply (its text is kept, as with
    Stop) and then does what it says.
    """
    shown = conversation.messages
    if tail := redrawn_tail(conversation, turn_for(pending, conversation)):
        shown = shown[:-tail]  # the turn's bubble draws them: answered again, continued, or
        # the round whose calls it answers
    if not shown and show_empty_hint:
        st.caption(t("chat.empty"))
    hidden = max(0, len(shown) - st.session_state[state.HISTORY_WINDOW])
    render_show_earlier(hidden)
    editing = st.session_state.get(branches.EDITING)
    group = shown_group(candidates.group(), conversation) if pending is None else None
    results = results_by_reply(conversation.messages)
    waiting = {c.id for c in pending_calls(conversation)} if pending is None else set()
    bubbles = [m for m in shown[hidden:] if m.role != "tool"]  # results: inside their reply
    for index, message in enumerate(bubbles):
        last = index == len(bubbles) - 1 and pending is None
        if group is not None and index == len(bubbles) - 1:
            _group(group, message)
            continue
        _bubble(message, conversation, model, is_last=last, editing=message.id == editing,
                results=results.get(message.id), answerable=waiting if last else ())


def _group(group: CandidateGroup, shown: Message) -> None:
    """The `n` candidates of the last reply side by side, until one is picked."""
    candidates.render_group(group, shown.id, on_retry=live_reply.request_retry,
                            on_regenerate=branches.regenerate)


def shown(conversation: Conversation) -> tuple[Message, ...]:
    """The messages the page draws (the latest ones; older ones on demand)."""
    return conversation.messages[-st.session_state[state.HISTORY_WINDOW]:]


def _bubble(message: Message, conversation: Conversation, model: str, *, is_last: bool,
            editing: bool = False, results: Mapping[str, Message] | None = None,
            answerable: Collection[str] = (), running: Collection[str] = ()) -> None:
    """A message with its controls: versions, edit or regenerate, Retry / Continue if last."""
    def controls() -> None:
        branches.render_sibling_nav(conversation, message)
        branches.render_message_actions(message)
        code_view.render_button(message, conversation)

    render_message(
        message,
        model=model,
        is_last=is_last,
        on_retry=live_reply.request_retry,
        on_continue=live_reply.request_continue,
        editor=(lambda: branches.render_editor(message)) if editing else None,
        after=controls,
        single_control=(len(conversation.siblings.get(message.id, ())) < 2
                        and not code_view.has_request(message)),
        results=results,
        answerable=answerable,
        running=running,
        on_answer=live_reply.answer_call,
    )


def run_turn(kind: TurnKind, settings: Settings, params: GenerationParams, *,
             vision: bool, thinking: Thinking | None = None, tools: Toolbox = NO_TOOLS,
             max_rounds: int = 1) -> None:
    """Stream the reply into a new bubble and draw it as stored, with its controls; while
    the model calls `tools`, run them and stream the next reply, up to `max_rounds`
    requests. A reply of `n` > 1 candidates is drawn as its candidates side by side."""

    def draw(conversation: Conversation, reply: Message, last: bool,
             running: Collection[str]) -> None:
        if last and not running and (group := shown_group(candidates.group(), conversation)):
            _group(group, reply)
            return
        waiting = {c.id for c in pending_calls(conversation)} - set(running) if last else set()
        _bubble(reply, conversation, settings.model, is_last=last and not running,
                results=results_by_reply(conversation.messages).get(reply.id),
                answerable=waiting, running=running)

    conversation = live_reply.run_turn(kind, settings, params, vision=vision, thinking=thinking,
                                       tools=tools, max_rounds=max_rounds, draw=draw)
    spend.remember_balance(conversation.last)


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
