"""Messages and conversations as plain data, and the wire format the API expects."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from nexuschat.images import PreparedImage, image_part

# Sent in place of an image to a model that cannot read images (not shown, not stored).
IMAGE_NOTE = "[image not shown to this model: {name}]"

TITLE_CHARS = 60  # a title made from a message is cut near this many characters

Role = Literal["system", "user", "assistant", "tool"]
Status = Literal["complete", "stopped", "error"]


def new_id() -> str:
    """A fresh random id for a message or conversation."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ReplyMeta:
    """How an assistant reply came to be: model, why it ended, usage and timings."""

    model: str = ""
    finish_reason: str | None = None  # normalized: stop, length, tool_calls, content_filter...
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    ttft_s: float | None = None  # to the first visible token, reasoning included
    duration_s: float | None = None
    status: Status = "complete"
    error_code: str | None = None
    error_params: dict = field(default_factory=dict)
    raw_finish_reason: str | None = None  # as the server sent it (`end_turn`, `MAX_TOKENS`...)
    reasoning_tokens: int | None = None  # usage.completion_tokens_details.reasoning_tokens
    reasoning_s: float | None = None  # how long the model thought before answering
    refusal: bool = False  # the content is the model's refusal, not an answer
    skipped_parts: tuple[str, ...] = ()  # types of content parts that carried nothing shown
    # One of `n` > 1 candidates from one request: which (0: the first) and of how many. The
    # usage is then the whole request's, shared by all its candidates (DEVELOPERS.md).
    candidate: int = 0
    candidates: int = 1

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed after the first token, when usage and timings allow it."""
        if not self.completion_tokens or self.duration_s is None or self.ttft_s is None:
            return None
        if self.candidates > 1:  # the tokens are every candidate's: no one candidate's speed
            return None
        generating = self.duration_s - self.ttft_s
        return self.completion_tokens / generating if generating > 0 else None

    @property
    def has_usage(self) -> bool:
        """Whether the server reported token usage."""
        return self.total_tokens is not None


@dataclass(frozen=True)
class Message:
    """One turn: who spoke, the text, attached images, and for replies how they came to be.

    `reasoning` is what a reasoning model thought before answering: shown and stored, never
    sent back to a model (DeepSeek's API refuses a request that carries it).
    """

    role: Role
    content: str
    images: tuple[PreparedImage, ...] = ()
    meta: ReplyMeta | None = None
    earlier_attempts: tuple[str, ...] = ()
    id: str = field(default_factory=new_id)
    parent_id: str | None = None  # the message this one answers or follows; None for the first
    created_at: float = field(default_factory=time.time)
    reasoning: str = ""

    @property
    def status(self) -> Status:
        """complete, stopped (by the user) or error (cut off by a failure)."""
        return self.meta.status if self.meta else "complete"


@dataclass(frozen=True)
class Conversation:
    """The branch on screen (root first) and the conversation's settings; never mutated."""

    messages: tuple[Message, ...] = ()
    system_prompt: str = ""
    id: str = field(default_factory=new_id)
    title: str = ""
    model: str = ""
    params: dict = field(default_factory=dict)  # GenerationParams as a plain dict
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    # For each message on the path that has siblings: all of them (itself included), oldest first.
    siblings: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def append(self, message: Message) -> Conversation:
        """A copy with `message` added after the last one (as its child)."""
        last = self.last
        if last is not None and message.parent_id is None:
            message = replace(message, parent_id=last.id)
        return replace(self, messages=(*self.messages, message))

    def replace_last(self, message: Message) -> Conversation:
        """A copy whose last message is `message` (same place in the tree)."""
        last = self.last
        if last is not None:
            message = replace(message, parent_id=last.parent_id)
        return replace(self, messages=(*self.messages[:-1], message))

    @property
    def last(self) -> Message | None:
        """The latest message, if any."""
        return self.messages[-1] if self.messages else None


def make_title(text: str, limit: int = TITLE_CHARS) -> str:
    """A conversation title from a message: its first non-empty line, cut at a word."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    if len(line) <= limit:
        return line
    cut = line[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def first_user_title(messages: Iterable[Message]) -> str:
    """The title an untitled conversation gets: from its first user message with text."""
    return next((t for m in messages if m.role == "user" and (t := make_title(m.content))), "")


def sent_messages(messages: tuple[Message, ...]) -> list[Message]:
    """The turns a request carries: replies cut off by an error are shown, not resent."""
    return [m for m in messages if not (m.role == "assistant" and m.status == "error")]


def message_to_openai(message: Message, *, vision: bool = True) -> dict:
    """One message in the API's shape; images become data-URL content parts here. Reasoning
    is never part of it.

    For a model that cannot see, an image becomes a short text note instead: such servers
    reject image parts outright, and the note keeps the turn readable.
    """
    if message.images and vision:
        parts: list[dict] = []
        if message.content:
            parts.append({"type": "text", "text": message.content})
        parts.extend(image_part(img.data, img.mime) for img in message.images)
        return {"role": message.role, "content": parts}
    notes = [IMAGE_NOTE.format(name=img.name or "image") for img in message.images]
    # Some servers reject null content on assistant turns; an empty string is always accepted.
    return {"role": message.role, "content": "\n".join([*notes, message.content or ""]).strip()
            if notes else message.content or ""}


def to_openai(conversation: Conversation, *, vision: bool = True) -> list[dict]:
    """The whole conversation as the `messages` array: system prompt first, then every turn."""
    out: list[dict] = []
    if conversation.system_prompt.strip():
        out.append({"role": "system", "content": conversation.system_prompt})
    out.extend(message_to_openai(m, vision=vision) for m in sent_messages(conversation.messages))
    return out


def has_images(conversation: Conversation) -> bool:
    """Whether any turn on the shown branch carries an image."""
    return any(m.images for m in conversation.messages)


@dataclass(frozen=True)
class ConversationTree:
    """Every message of a conversation, all branches, in creation order, and the leaf shown."""

    conversation: Conversation  # its `messages` are the path from the root to `leaf_id`
    messages: tuple[Message, ...]
    leaf_id: str | None = None
