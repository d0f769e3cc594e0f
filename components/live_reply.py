"""Runs one turn: streams the reply into the page at a bounded repaint rate, keeps what came."""

from __future__ import annotations

import time

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components import candidates, persistence, quota, state
from components.client import client_for
from components.messages import AVATARS, CURSOR, render_content, render_reasoning
from nexuschat.api import ChatError, ChatStream, RefusedStream, build_body
from nexuschat.candidates import requested
from nexuschat.config import Settings
from nexuschat.conversation import Conversation
from nexuschat.i18n import format_number, t
from nexuschat.models import Thinking
from nexuschat.params import GenerationParams
from nexuschat.rich_text import page_markdown
from nexuschat.streaming import ReplyAccumulator, paced
from nexuschat.turns import (
    LiveTurn,
    TurnKind,
    failure_params,
    reply_is_new,
    request_messages,
    retry_wait_s,
    text_chars,
)

REPAINT_INTERVAL_S = 0.04  # at most 25 repaints a second, never per token (quadratic)
SAVE_INTERVAL_S = 1.0  # a crash loses at most this much of a streaming reply


class _Painter:
    """What the streaming bubble shows, repainted part by part, only where it changed.

    One clock for both parts: each tick repaints the thinking while the model thinks, the
    answer once it answers. When the answer starts the thinking is drawn once more, collapsed,
    and then left alone: its text is not resent on every tick of the answer.
    """

    def __init__(self, thinking: DeltaGenerator, body: DeltaGenerator, prefix: str) -> None:
        self.thinking, self.body, self.prefix = thinking, body, prefix
        self.reasoning_chars, self.collapsed = 0, False
        self.text_chars, self.refusal_chars = 0, 0
        self.waiting = True  # the "waiting for the first token" caption is up

    def paint(self, reply: ReplyAccumulator) -> bool:
        """Repaint what changed since the last call; whether anything was."""
        changed = False
        answering = reply.answering
        if reply.reasoning_chars and (reply.reasoning_chars != self.reasoning_chars
                                      or (answering and not self.collapsed)):
            with self.thinking.container():
                render_reasoning(reply.reasoning, reply.reasoning_seconds(), live=not answering)
            self.reasoning_chars, self.collapsed = reply.reasoning_chars, answering
            changed = True
        if reply.text_chars != self.text_chars:
            self.body.markdown(page_markdown(self.prefix + reply.text + CURSOR))
            self.text_chars, self.waiting, changed = reply.text_chars, False, True
        elif not reply.text_chars and (refusal := reply.refusal) and \
                len(refusal) != self.refusal_chars:
            with self.body.container():
                render_content(refusal, refusal=True, cursor=True)
            self.refusal_chars, self.waiting, changed = len(refusal), False, True
        elif self.waiting and reply.reasoning_chars:
            self.body.empty()  # the thinking above is the first token
            self.waiting = False
        return changed


def run_turn(kind: TurnKind, settings: Settings, params: GenerationParams,
             slot: DeltaGenerator, *, vision: bool = True,
             thinking: Thinking | None = None) -> Conversation:
    """Send the conversation, paint the reply into `slot` as it streams, and store it however
    it ends; the conversation with the reply. `thinking` is how the model's thinking mode is
    switched (the catalog's flag), if it is."""
    conversation = state.conversation()
    messages = request_messages(conversation, kind, vision=vision)
    body = build_body(settings.model, messages, quota.sent_params(settings, params),
                      thinking=thinking)
    request_id = None
    try:
        client = client_for(settings)
        # Every turn passes the deploy's per-request limits, logged as it starts.
        request_id, hit = quota.admit(settings)
        stream: ChatStream | RefusedStream = (
            RefusedStream(quota.limit_error(hit)) if hit else ChatStream(client, body))
    except ChatError as exc:  # settings this deploy refuses: the turn fails, nothing is sent
        stream = RefusedStream(exc)
    finish = quota.finisher(request_id, sent_chars=text_chars(messages))
    live = LiveTurn(conversation, kind, ReplyAccumulator())
    # Crash-safe: the reply's row exists (marked interrupted) before the request is sent.
    if reply_is_new(conversation, kind):
        persistence.add_message(conversation, live.snapshot())
    else:
        persistence.save_message(conversation, live.snapshot())
    st.session_state[state.LIVE_TURN] = live
    reply = live.reply
    saved_at = time.monotonic()
    with slot.container(), st.chat_message("assistant", avatar=AVATARS["assistant"]):
        prefix = conversation.last.content if kind == "continue" and conversation.last else ""
        thinking_slot, body_slot = st.empty(), st.empty()
        body_slot.caption(t("chat.thinking"))
        stop_slot, beat_slot = st.empty(), st.empty()
        # Stop (or any other click) ends this run; `settle_live_turn` then keeps the partial text.
        stop_slot.button(t("chat.stop"), key="stop-stream", icon=":material/stop:")
        count = requested(params)  # `n` > 1: the candidates side by side
        painter = (_Painter(thinking_slot, body_slot, prefix) if count < 2
                   else candidates.LivePainter(body_slot, count, _Painter))
        try:
            painted = 0
            for folded in paced(stream, reply.add, REPAINT_INTERVAL_S):
                if folded != painted and painter.paint(reply):
                    painted = folded
                    if (time.monotonic() - saved_at >= SAVE_INTERVAL_S
                            and _save_partial(conversation, live)):
                        saved_at = time.monotonic()  # when busy: again at the next paint
                else:
                    # A no-op delta: Streamlit can only deliver a Stop click at such a point.
                    beat_slot.empty()
            if not reply.complete:
                live.fail("error.stream_incomplete")
        except ChatError as exc:
            live.fail(exc.code, failure_params(exc, time.time()))
        except BaseException:
            live.status = "stopped"
            raise
        finally:
            # No Streamlit calls here: after a Stop they raise again on this thread.
            stream.close()
            live.end()
            finish(live.reply.meta(live.status, live.error_code, live.error_params),
                   live.reply.output_chars)  # every candidate's, when `n` > 1
    # The caller draws the stored reply over `slot`: no second run of the whole page (per
    # turn, that run cost every other session's stream a burst of deltas to wait behind:
    # bench/load.py).
    return settle_live_turn()


def _save_partial(conversation: Conversation, live: LiveTurn) -> bool:
    """The reply as it stands (every candidate), best effort; whether all of it was written."""
    snapshot = live.snapshot()
    return (persistence.save_message(conversation, snapshot, best_effort=True)
            and candidates.save_partial(conversation, live, snapshot))


def settle_live_turn() -> Conversation:
    """Fold a finished or interrupted reply into the conversation (once); the conversation.

    A click while a reply streams ends that run, and the click's callback runs before this
    (Streamlit runs callbacks first): if it put another view on screen (New chat, another
    conversation or version, a regenerate), the reply is only stored, where that view's
    versions and the Conversations page find it.
    """
    live: LiveTurn | None = st.session_state.get(state.LIVE_TURN)
    if live is not None:
        st.session_state[state.LIVE_TURN] = None
        settled = live.settle()
        adopt = _same_view(state.conversation(), live.conversation)
        if adopt:
            state.set_conversation(settled)  # kept in the session even if the save fails
        persistence.save_message(settled, settled.last)
        candidates.settle(live, settled, adopt)  # `n` > 1: the others, as its siblings
        if adopt:
            state.set_conversation(persistence.refresh_siblings(settled))
    return state.conversation()


def _same_view(shown: Conversation, started_from: Conversation) -> bool:
    return (shown.id == started_from.id
            and [m.id for m in shown.messages] == [m.id for m in started_from.messages])


def request_retry() -> None:
    """Ask for the failed turn to run again on the next run."""
    st.session_state[state.PENDING] = "retry"


def request_continue() -> None:
    """Ask the model to continue the last reply on the next run."""
    st.session_state[state.PENDING] = "continue"


def wait_for_retry_after(not_before: float | None) -> None:
    """Honour the server's Retry-After before resending, showing the countdown."""
    if not not_before:
        return
    slot = st.empty()
    while (left := retry_wait_s(not_before, time.time())) > 0:
        slot.info(t("chat.wait_retry", seconds=format_number(left, 0)), icon=":material/hourglass:")
        time.sleep(min(left, 0.25))
    slot.empty()
