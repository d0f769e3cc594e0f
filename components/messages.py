"""The conversation as chat bubbles: text, images with their facts, and reply details."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from contextlib import nullcontext

import streamlit as st

from components import spend, state
from components.tool_calls import Answer, render_calls
from nexuschat import describe
from nexuschat.conversation import Message, ReplyMeta
from nexuschat.i18n import format_bytes, format_number, t
from nexuschat.images import PreparedImage, estimate_tokens, thumbnail
from nexuschat.rich_text import page_markdown
from nexuschat.safe_text import plain_text
from nexuschat.turns import can_continue

THUMBNAIL_PX = 360  # shown small, like a chat app; the full image is what was sent
AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:"}
CURSOR = " ▌"


def render_images(images: tuple[PreparedImage, ...], model: str) -> None:
    """Each image as sent, with its pixel size, bytes and estimated token cost."""
    if not images:
        return
    # One image needs no columns: every element is a message to the browser on each run.
    columns = st.columns(min(len(images), 3)) if len(images) > 1 else [nullcontext()]
    for index, image in enumerate(images):
        with columns[index % len(columns)]:
            st.image(_thumbnail(image.sha256, image.data), width=min(image.width, THUMBNAIL_PX),
                     caption=image_caption(image, model))  # in the image: one element, not two


@st.cache_data(max_entries=5000, show_spinner=False)
def _thumbnail(digest: str, _data: bytes) -> bytes:
    # Keyed by the content hash: made once per image, not on every rerun (Streamlit would
    # otherwise decode, resize and re-encode every image wider than the width asked for).
    return thumbnail(_data, THUMBNAIL_PX)[0]


def image_caption(image: PreparedImage, model: str) -> str:
    """"1568×1176 · 212 KB · ~2,459 tokens", plus the original size when it changed."""
    caption = t(
        "chat.image_caption",
        width=image.width,
        height=image.height,
        size=format_bytes(image.size_bytes),
        count=estimate_tokens(image.width, image.height, model),
    )
    if (image.width, image.height) != (image.source_width, image.source_height):
        caption += " · " + t(
            "chat.image_caption_original",
            width=image.source_width,
            height=image.source_height,
            size=format_bytes(image.source_bytes),
        )
    return caption


def meta_line(meta: ReplyMeta, cost: str | None = None) -> str:
    """Model, usage, what it cost and timings in one line."""
    parts = [t("meta.model", model=plain_text(meta.model))] if meta.model else []
    parts.append(describe.usage_note(meta))
    if cost:
        parts.append(cost)
    if reasoning := describe.reasoning_note(meta):
        parts.append(reasoning)
    if meta.ttft_s is not None:
        parts.append(t("meta.ttft", seconds=format_number(meta.ttft_s, 2)))
    if meta.tokens_per_s is not None:
        parts.append(t("meta.speed", rate=format_number(meta.tokens_per_s, 0)))
    return " · ".join(parts)


def finish_note(meta: ReplyMeta) -> str | None:
    """Why the reply ended, when that is worth saying (nexuschat.describe words it)."""
    return describe.finish_note(meta, literal=plain_text)


def render_message(
    message: Message,
    *,
    model: str,
    is_last: bool,
    on_retry: Callable[[], None] | None = None,
    on_continue: Callable[[], None] | None = None,
    editor: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
    single_control: bool = False,
    results: Mapping[str, Message] | None = None,
    answerable: Collection[str] = (),
    running: Collection[str] = (),
    on_answer: Answer | None = None,
) -> None:
    """One bubble; the last reply also gets its Retry / Continue actions.

    `editor` replaces the text (an inline edit); `after` draws controls at the bubble's end,
    in a row, or on their own when `single_control` says `after` draws one button. A reply's
    tool calls are drawn inside it with their `results` (the tool messages, by call id), those
    in `running` with a spinner; the calls in `answerable` take the user's answer
    (`on_answer`).
    """
    with st.chat_message(message.role, avatar=AVATARS.get(message.role)):
        if message.reasoning and editor is None:
            render_reasoning(message.reasoning, message.meta.reasoning_s if message.meta else None)
        if editor is not None:
            editor()
        elif message.content:
            render_content(message.content, refusal=bool(message.meta and message.meta.refusal))
        if message.tool_calls:
            render_calls(message, results or {}, running=running, answerable=answerable,
                         on_answer=on_answer)
        render_images(message.images, model)
        for attempt in message.earlier_attempts:
            with st.expander(t("meta.interrupted", message=plain_text(attempt[:60]) + "…")):
                st.markdown(page_markdown(attempt))
        if message.role == "assistant" and message.meta:
            render_reply_footer(message)
        if single_control and not is_last:
            # One button needs no row: every element is one more message to the browser on
            # every run, for every message on screen.
            if after is not None:
                after()
            return
        with st.container(horizontal=True, gap="small", vertical_alignment="center",
                          key=f"actions-{message.id}"):
            if is_last:
                render_reply_actions(message, on_retry=on_retry, on_continue=on_continue)
            if after is not None:
                after()


def render_reasoning(reasoning: str, seconds: float | None, *, live: bool = False) -> None:
    """The model's thinking, above its answer: open and streaming while the model thinks,
    then collapsed to how long it thought and how much it wrote."""
    if live:
        with st.expander(t("chat.thinking_live"), expanded=True, type="compact", icon="spinner"):
            st.markdown(page_markdown(reasoning + CURSOR))
        return
    chars = len(reasoning)
    label = (t("chat.thought_for", seconds=format_number(seconds, 1), count=chars)
             if seconds is not None else t("chat.thought", count=chars))
    with st.expander(label, expanded=False, type="compact", icon=":material/psychology:"):
        st.markdown(page_markdown(reasoning))


def render_content(text: str, *, refusal: bool = False, cursor: bool = False) -> None:
    """A reply's text, or the model's refusal in a style of its own."""
    shown = page_markdown(text + CURSOR if cursor else text)
    if refusal:
        st.caption(t("chat.refusal"))
        st.info(shown, icon=":material/do_not_disturb_on:")
    else:
        st.markdown(shown)


def render_reply_footer(message: Message) -> None:
    """Reply facts, and why it ended when that is worth saying."""
    meta = message.meta
    assert meta is not None
    if meta.skipped_parts:
        st.caption(t("chat.parts_skipped", types=plain_text(", ".join(meta.skipped_parts))))
    if failure := describe.error_note(meta, literal=plain_text, now=time.time()):
        st.error(failure, icon=":material/error:")
    elif limit := describe.tool_limit_note(meta):
        st.warning(limit, icon=":material/block:")
    elif (note := finish_note(meta)) and not (message.tool_calls
                                              and meta.finish_reason == "tool_calls"):
        st.warning(note, icon=":material/info:")  # calls drawn above say it already
    cost, cost_help = spend.footer(meta, spend.usd_cny())
    st.caption(meta_line(meta, cost), help=cost_help)


def render_reply_actions(
    message: Message,
    *,
    on_retry: Callable[[], None] | None,
    on_continue: Callable[[], None] | None,
) -> None:
    """Retry after a failure, Continue after a cut; drawn into the bubble's action row."""
    meta = message.meta
    if meta is None:
        return
    if meta.error_code and on_retry:
        st.button(t("chat.retry"), key=f"retry-{message.id}", on_click=on_retry,
                  icon=":material/refresh:")
    if can_continue(message) and on_continue and not meta.error_code:
        st.button(t("chat.continue"), key=f"continue-{message.id}", on_click=on_continue,
                  icon=":material/play_arrow:")


def _show_earlier() -> None:
    st.session_state[state.HISTORY_WINDOW] += state.HISTORY_STEP


def render_show_earlier(hidden: int) -> None:
    """A control to draw older messages; only the latest ones are drawn on each rerun."""
    if hidden > 0:
        st.button(t("chat.show_earlier", hidden=format_number(hidden)), key="show-earlier",
                  type="tertiary", icon=":material/expand_less:", on_click=_show_earlier)
