"""`n` > 1 candidates side by side: streamed into columns, then each with its own finish and
facts and a "Continue with this one" button; the others stay as sibling versions (< k/n >).

Columns, not tabs: tabs show one candidate at a time, so two cannot be compared while they
stream, and the server cannot know the screen's width to choose. Streamlit's columns stack
by themselves on a viewport of 640 px or less, so a phone gets them one under another; four
are drawn two by two (four in a row would be too narrow in the centered layout).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components import persistence
from components.messages import AVATARS, render_content, render_reasoning
from nexuschat import describe
from nexuschat.candidates import CandidateGroup, group_of, other_candidates, rows
from nexuschat.conversation import Conversation, Message
from nexuschat.i18n import format_number, t
from nexuschat.safe_text import plain_text
from nexuschat.store import NotFound, StoreBusy, StoreError, retry_busy
from nexuschat.turns import LiveTurn

GROUP = "candidate_group"  # CandidateGroup | None: the candidates shown until one is picked


def group() -> CandidateGroup | None:
    """The candidates of the latest turn with several, if any."""
    return st.session_state.get(GROUP)


def _cells(count: int) -> list[DeltaGenerator]:
    cells: list[DeltaGenerator] = []
    for size in rows(count):
        cells.extend(st.columns(size))
    return cells[:count]


class LivePainter:
    """The streaming bubble for `count` candidates: one painter per candidate, in its column,
    repainted on the one clock (each only where it changed)."""

    def __init__(self, slot: DeltaGenerator, count: int,
                 make: Callable[[DeltaGenerator, DeltaGenerator, str], object]) -> None:
        self.painters = []
        with slot.container():
            for index, cell in enumerate(_cells(count)):
                with cell:
                    st.caption(t("candidates.label", index=index + 1))
                    thinking, body = st.empty(), st.empty()
                    body.caption(t("chat.thinking"))
                self.painters.append(make(thinking, body, ""))

    def paint(self, reply) -> bool:
        """Repaint each candidate that changed; whether any did."""
        changed = False
        for index, painter in enumerate(self.painters):
            changed = painter.paint(reply.choice(index)) or changed
        return changed


def _write(conversation: Conversation, message: Message, first: Message, *,
           best_effort: bool) -> bool:
    """Save a candidate's row, adding it the first time (the first candidate stays the shown
    leaf); whether it was written. Best effort: never waits on a busy database."""
    store, owner = persistence.store(), persistence.owner()
    try:
        try:
            store.save_message(owner, conversation.id, message, wait=not best_effort)
        except NotFound:
            retry_busy(lambda: store.add_message(owner, conversation.id, message))
            retry_busy(lambda: store.set_leaf(owner, conversation.id, first.id))
    except StoreError as exc:
        if not best_effort:
            raise
        if not isinstance(exc, StoreBusy):
            persistence.report(exc)
        return False
    return True


def save_partial(conversation: Conversation, live: LiveTurn, first: Message) -> bool:
    """While they stream: the other candidates as they stand, marked interrupted (what a crash
    would leave); whether all were written."""
    return all(_write(conversation, m, first, best_effort=True)
               for m in other_candidates(live, first, interrupted=True))


def settle(live: LiveTurn, settled: Conversation, adopt: bool) -> None:
    """Store the turn's other candidates as siblings of its reply (the first stays shown) and,
    when the view is still the turn's, show them side by side until one is picked."""
    first = settled.last
    if first is None:
        return
    others = other_candidates(live, first)
    for message in others:
        _write(settled, message, first, best_effort=False)
    if adopt:
        st.session_state[GROUP] = group_of(settled, others)


def clear() -> None:
    """Stop showing the candidates side by side (they stay as versions)."""
    st.session_state[GROUP] = None


def _pick(conversation_id: str, message_id: str) -> None:
    clear()
    persistence.open_conversation(conversation_id, message_id, apply_settings=False)


def _facts(message: Message) -> str:
    meta = message.meta
    parts = [t("candidates.chars", count=len(message.content))]
    if meta is not None and meta.ttft_s is not None:
        parts.append(t("meta.ttft", seconds=format_number(meta.ttft_s, 2)))
    if meta is not None and meta.duration_s is not None:
        parts.append(t("candidates.time", seconds=format_number(meta.duration_s, 1)))
    return " · ".join(parts)


def _request_line(message: Message) -> str:
    meta = message.meta
    if meta is None:
        return ""
    parts = [t("meta.model", model=plain_text(meta.model))] if meta.model else []
    parts.append(describe.usage_note(meta))
    if reasoning := describe.reasoning_note(meta):
        parts.append(reasoning)
    return " · ".join(parts)


def _candidate(conversation_id: str, index: int, message: Message, shown: str) -> None:
    meta = message.meta
    with st.container(border=True, key=f"candidate-{message.id}"):
        label = t("candidates.label", index=index + 1)
        st.caption(t("candidates.label_shown", label=label) if message.id == shown else label)
        if message.reasoning:
            render_reasoning(message.reasoning, meta.reasoning_s if meta else None)
        if message.content:
            render_content(message.content, refusal=bool(meta and meta.refusal))
        if meta is not None:
            if failure := describe.error_note(meta, literal=plain_text):
                st.error(failure, icon=":material/error:")
            elif note := describe.finish_note(meta, literal=plain_text):
                st.warning(note, icon=":material/info:")
        st.caption(_facts(message))
        st.button(t("candidates.pick"), key=f"pick-{message.id}", type="primary",
                  icon=":material/check:", on_click=_pick, args=(conversation_id, message.id),
                  width="stretch")


def render_group(candidates: CandidateGroup, shown: str, *,
                 on_retry: Callable[[], None] | None = None,
                 on_regenerate: Callable[[str], None] | None = None) -> None:
    """The candidates side by side in one bubble, each with "Continue with this one"; under
    them the request's usage once (it covers them all), Regenerate and, after a failure,
    Retry. `shown` is the candidate the conversation continues from now."""
    replies = candidates.replies
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        st.caption(t("candidates.hint", count=len(replies)))
        for index, (cell, message) in enumerate(zip(_cells(len(replies)), replies,
                                                    strict=True)):
            with cell:
                _candidate(candidates.conversation_id, index, message, shown)
        st.caption(_request_line(replies[0]))
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            if on_retry is not None and replies[0].id == shown and replies[0].status == "error":
                st.button(t("chat.retry"), key=f"retry-{shown}", on_click=on_retry,
                          icon=":material/refresh:")
            if on_regenerate is not None:
                st.button(t("candidates.regenerate"), key=f"regenerate-all-{shown}",
                          type="tertiary", icon=":material/autorenew:",
                          on_click=on_regenerate, args=(shown,))
