"""Runs one turn: streams the reply into the page at a bounded repaint rate, keeps what came."""

from __future__ import annotations

import time

import streamlit as st

from components import state
from components.messages import AVATARS, render_reply_footer
from nexuschat.api import ChatError, ChatStream, build_body, make_client
from nexuschat.config import Settings
from nexuschat.i18n import t
from nexuschat.params import GenerationParams
from nexuschat.streaming import ReplyAccumulator, paced
from nexuschat.turns import TurnKind, apply_reply, request_messages

REPAINT_INTERVAL_S = 0.08  # repaint on a clock, never per token: per-token repaint is quadratic
CURSOR = " ▌"


def run_turn(kind: TurnKind, settings: Settings, params: GenerationParams) -> None:
    """Send the conversation, paint the reply as it streams, and store it however it ends."""
    conversation = state.conversation()
    body = build_body(settings.model, request_messages(conversation, kind), params)
    client = make_client(settings)
    stream = ChatStream(client, body)
    reply = ReplyAccumulator()
    status, error = "complete", None
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        prefix = conversation.last.content if kind == "continue" and conversation.last else ""
        body_slot = st.empty()
        body_slot.caption(t("chat.thinking"))
        stop_slot, beat_slot = st.empty(), st.empty()
        # Clicking Stop reruns the script, which interrupts this loop; `finally` keeps the text.
        stop_slot.button(t("chat.stop"), key="stop-stream", icon=":material/stop:")
        try:
            painted = 0
            for batch in paced(stream, REPAINT_INTERVAL_S):
                for chunk in batch:
                    reply.add(chunk)
                if reply.chunks != painted and reply.text:
                    body_slot.markdown(prefix + reply.text + CURSOR)
                    painted = reply.chunks
                else:
                    # A no-op delta: Streamlit can only deliver a Stop click at such a point.
                    beat_slot.empty()
            if not reply.complete:
                error = ChatError("error.stream_incomplete")
        except ChatError as exc:
            error = exc
        except BaseException:
            status = "stopped"  # Stop, a new message or leaving the page: keep the partial reply
            raise
        finally:
            reply.finish()
            stream.close()
            client.close()
            meta = reply.meta(
                status="error" if error else status,
                error_code=error.code if error else None,
                error_params=_error_params(error),
            )
            updated = apply_reply(conversation, kind, reply.text, meta)
            state.set_conversation(updated)
        stop_slot.empty()
        if updated.last.content:
            body_slot.markdown(updated.last.content)
        else:
            body_slot.empty()
        render_reply_footer(updated.last, is_last=True, on_retry=request_retry,
                            on_continue=request_continue)


def _error_params(error: ChatError | None) -> dict:
    if error is None:
        return {}
    params = {k: v for k, v in error.params.items() if isinstance(v, str | int | float)}
    if error.retry_after is not None:
        params["retry_after"] = error.retry_after
        params["retry_not_before"] = time.time() + error.retry_after
    return params


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
    while (left := not_before - time.time()) > 0:
        slot.info(t("chat.wait_retry", seconds=f"{left:.0f}"), icon=":material/hourglass:")
        time.sleep(min(left, 0.25))
    slot.empty()
