"""Runs one turn: streams the reply into the page at a bounded repaint rate, keeps what came."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components import candidates, persistence, quota, spend, state, tool_box
from components.client import client_for
from components.messages import AVATARS, CURSOR, render_content, render_reasoning
from components.tool_calls import answer_key, render_calls, render_live_calls
from nexuschat.api import ChatError, ChatStream, RefusedStream, build_body
from nexuschat.candidates import requested, shown_group
from nexuschat.config import Settings
from nexuschat.conversation import Conversation, Message, ToolCall
from nexuschat.gateway import read_balance
from nexuschat.i18n import format_number, t
from nexuschat.models import Thinking
from nexuschat.params import GenerationParams
from nexuschat.rich_text import page_markdown
from nexuschat.snippets import request_record
from nexuschat.streaming import ReplyAccumulator, paced
from nexuschat.tool_loop import (
    NO_TOOLS,
    LiveTools,
    Toolbox,
    answered_by_user,
    at_limit,
    continues,
    last_round,
    pending_calls,
    result_message,
    results_by_reply,
    rounds_used,
    tools_request,
    with_limit,
)
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
TOOL_POLL_S = 0.1  # while tools run: how often a Stop click can land
SAVE_INTERVAL_S = 1.0  # a crash loses at most this much of a streaming reply


class _Painter:
    """What the streaming bubble shows, repainted part by part, only where it changed.

    One clock for both parts: each tick repaints the thinking while the model thinks, the
    answer once it answers. When the answer starts the thinking is drawn once more, collapsed,
    and then left alone: its text is not resent on every tick of the answer.
    """

    def __init__(self, thinking: DeltaGenerator, body: DeltaGenerator, prefix: str,
                 calls: DeltaGenerator, sources: Mapping[str, str]) -> None:
        self.thinking, self.body, self.prefix = thinking, body, prefix
        self.calls, self.sources = calls, sources
        self.reasoning_chars, self.collapsed = 0, False
        self.text_chars, self.refusal_chars, self.tool_chars = 0, 0, 0
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
        elif self.waiting and (reply.reasoning_chars or reply.tool_chars):
            self.body.empty()  # the thinking above, or a call below, is the first token
            self.waiting = False
        if reply.tool_chars != self.tool_chars:  # calls as far as they came, on the same clock
            with self.calls.container():
                render_live_calls(tuple(replace(call, source=self.sources.get(call.name, ""))
                                        for call in reply.tool_calls))
            self.tool_chars, changed = reply.tool_chars, True
        return changed


Draw = Callable[[Conversation, Message, bool, Collection[str]], None]


def run_turn(kind: TurnKind, settings: Settings, params: GenerationParams, *,
             vision: bool = True, thinking: Thinking | None = None, tools: Toolbox = NO_TOOLS,
             max_rounds: int = 1, draw: Draw) -> Conversation:
    """Run one turn of the tool loop: stream a reply; while it calls `tools`, run the calls,
    store each result, and stream the next reply, up to `max_rounds` requests (the last
    reply then says so, its calls kept and unanswered). A call of the user's own tool pauses
    the loop: its reply waits for the user's answer (`answer_call`). Each reply is drawn as
    stored with `draw(conversation, reply, is_last, running_call_ids)`.

    Stop (or any click) ends the run wherever it is: streaming, or while a tool runs; the
    next run folds in what came (`settle_live_turn`).
    """
    conversation = state.conversation()
    round_no = 0
    while True:
        round_no += 1
        if kind == "tools":
            slot = st.empty()
            conversation = _run_calls(conversation, tools, slot, draw, round_no)
            if pending_calls(conversation):  # the user's own tools: they type the results
                return conversation
            kind = "reply"
        slot = st.empty()
        conversation = _stream_reply(kind, settings, params, slot, vision=vision,
                                     thinking=thinking, tools=tools, round_no=round_no)
        reply = conversation.last
        goes_on = bool(tools.tools) and reply is not None and continues(reply)
        if goes_on and at_limit(conversation, max_rounds):
            conversation = conversation.replace_last(with_limit(reply, max_rounds))
            state.set_conversation(conversation)
            persistence.save_message(conversation, conversation.last)
            goes_on = False
        if not goes_on:
            if conversation.last is not None:
                if shown_group(candidates.group(), conversation):
                    # Emptied first: a block drawn over a block of its kind keeps the old
                    # one's children past what the new one draws, and the streaming columns
                    # are laid out unlike the finished ones.
                    slot.empty()
                with slot.container():
                    draw(conversation, conversation.last, True, ())
            return conversation
        kind = "tools"  # the round's bubble is drawn again below, with its calls running
        slot.empty()


def _run_calls(conversation: Conversation, box: Toolbox, slot: DeltaGenerator, draw: Draw,
               round_no: int) -> Conversation:
    """Run the calls of the last reply that the app answers, on worker threads; each result
    is stored as it comes (in the model's order) and the reply redrawn with it. Returns
    with the user's own calls still waiting."""
    found = last_round(conversation)
    calls = tuple(c for c in pending_calls(conversation) if not answered_by_user(c))
    if not found or not calls:
        with slot.container():
            if found:
                draw(conversation, found[0], bool(pending_calls(conversation)), ())
        return conversation
    reply = found[0]
    live = LiveTools(conversation, calls).start(box, tool_box.context())
    st.session_state[state.LIVE_TOOLS] = live
    with slot.container():
        bubble, stop_slot, beat = st.empty(), st.empty(), st.empty()
        stop_slot.button(t("chat.stop"), key=f"stop-tools-{round_no}", icon=":material/stop:")
        with bubble.container():
            _paint_round(conversation, reply, live.running())
        while not live.done:
            live.wait(TOOL_POLL_S)
            ready = live.take_ready()
            for result in ready:
                conversation = conversation.append(result)
                state.set_conversation(conversation)  # stored at once: a crash keeps it
                persistence.add_message(conversation, conversation.last)
                live.conversation = conversation
            if ready:
                with bubble.container():
                    _paint_round(conversation, reply, live.running())
            else:
                beat.empty()  # a no-op delta: where Streamlit delivers a Stop click
        stop_slot.empty()
        with bubble.container():  # once, as stored: its controls' keys are drawn once a run
            draw(conversation, reply, bool(pending_calls(conversation)), ())
    st.session_state[state.LIVE_TOOLS] = None
    return conversation


def _paint_round(conversation: Conversation, reply: Message, running: Collection[str]) -> None:
    """The reply whose calls run, lean (no controls): its text and the calls so far."""
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        if reply.content:
            render_content(reply.content)
        render_calls(reply, results_by_reply(conversation.messages).get(reply.id, {}),
                     running=running)


def _stream_reply(kind: TurnKind, settings: Settings, params: GenerationParams,
                  slot: DeltaGenerator, *, vision: bool, thinking: Thinking | None,
                  tools: Toolbox, round_no: int) -> Conversation:
    """Send the conversation, paint the reply into `slot` as it streams, and store it however
    it ends; the conversation with the reply. `thinking` is how the model's thinking mode is
    switched (the catalog's flag), if it is."""
    conversation = state.conversation()
    messages = request_messages(conversation, kind, vision=vision)
    first_round = rounds_used(conversation) - (not reply_is_new(conversation, kind)) <= 0
    if not first_round:  # candidates come from a turn's first request; later rounds send one
        params = replace(params, n=None)
    body = build_body(settings.model, messages, quota.sent_params(settings, params),
                      thinking=thinking,
                      tools=tools_request(tools, params, first_round=first_round))
    request_id = None
    try:
        client = client_for(settings)
        # Every turn passes the deploy's per-request limits, logged as it starts.
        request_id, hit = quota.admit(settings, conversation.id)
        stream: ChatStream | RefusedStream = (
            RefusedStream(quota.limit_error(hit)) if hit else ChatStream(client, body))
    except ChatError as exc:  # settings this deploy refuses: the turn fails, nothing is sent
        stream = RefusedStream(exc)
    finish = quota.finisher(request_id, sent_chars=text_chars(messages))
    prefix_chars = len(conversation.last.content) if kind == "continue" and conversation.last \
        else 0
    live = LiveTurn(conversation, kind, ReplyAccumulator(price=spend.price_record(settings)),
                    tool_sources=tools.sources(),
                    request=request_record(settings.base_url, body,
                                           system_prompt=conversation.system_prompt,
                                           vision=vision, kind=kind,
                                           continued_chars=prefix_chars))
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
        # The calls below Stop: the stored bubble drawn over this one replaces Stop first.
        stop_slot, beat_slot, calls_slot = st.empty(), st.empty(), st.empty()
        # Stop (or any other click) ends this run; `settle_live_turn` then keeps the partial text.
        stop_slot.button(t("chat.stop"), key="stop-stream" if round_no == 1
                         else f"stop-stream-{round_no}", icon=":material/stop:")
        count = requested(params)  # `n` > 1: the candidates side by side (calls: choice 0's)
        painter = (
            _Painter(thinking_slot, body_slot, prefix, calls_slot, live.tool_sources)
            if count < 2 else candidates.LivePainter(
                body_slot, count,
                lambda thought, body, start: _Painter(thought, body, start, calls_slot,
                                                      live.tool_sources)))
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
            if isinstance(stream, ChatStream) and stream.body is not body:
                # Sent again without stream_options (a server refused them): what was sent.
                live.request = {**live.request, "fields": {
                    k: v for k, v in stream.body.items() if k != "messages"}}
            if isinstance(stream, ChatStream) and not reply.balance:  # a gateway's header
                reply.balance = read_balance(stream.headers)
            live.end()
            finish(live.reply.meta(live.status, live.error_code, live.error_params),
                   live.reply.output_chars + live.reply.tool_chars)  # every candidate's
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
    _settle_live_tools()
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


def _settle_live_tools() -> None:
    """Store the results of calls a Stop or a click cut short (the ones still running are
    answered as stopped), once."""
    live: LiveTools | None = st.session_state.get(state.LIVE_TOOLS)
    if live is None:
        return
    st.session_state[state.LIVE_TOOLS] = None
    adopt = _same_view(state.conversation(), live.conversation)
    conversation = live.conversation
    for result in live.settle():
        conversation = conversation.append(result)
        persistence.add_message(conversation, conversation.last)
    if adopt:
        state.set_conversation(conversation)


def answer_call(reply_id: str, call: ToolCall) -> None:
    """Send what the user typed as the result of a call of their own tool; once the reply's
    last call is answered, the loop goes on (the next run's turn)."""
    conversation = state.conversation()
    found = last_round(conversation)
    if not found or found[0].id != reply_id or call not in pending_calls(conversation):
        return  # answered already, or another view is on screen
    text = str(st.session_state.pop(answer_key(reply_id, call), "") or "")
    conversation = conversation.append(result_message(call, text))
    persistence.add_message(conversation, conversation.last)
    state.set_conversation(conversation)
    if not pending_calls(conversation):
        st.session_state[state.PENDING] = "tools"


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
