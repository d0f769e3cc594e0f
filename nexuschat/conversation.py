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
ToolStatus = Literal["ok", "error", "stopped"]

# Sent (not shown, not stored) as the result of a tool call that got none: the turn was
# stopped, cut or interrupted before it ran, or the user went on without answering it. The API
# refuses an assistant message whose calls are not each answered by a tool message.
NOT_RUN_RESULT = "This tool call was not run: the turn ended before it could be."


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
    # The request that produced it, but its messages (nexuschat.snippets.request_record):
    # enough to show it as code; {} for replies from before, or imported.
    request: dict = field(default_factory=dict)
    # Prompt tokens read from the provider's cache (prompt_tokens_details.cached_tokens,
    # DeepSeek's prompt_cache_hit_tokens); part of prompt_tokens, priced lower.
    cached_tokens: int | None = None
    # The price it was costed at (nexuschat.cost.Price.to_dict): kept, so a later price
    # change does not rewrite what it cost; {}: no price known when it was sent.
    price: dict = field(default_factory=dict)
    # What the server said was left on the account after it (nexuschat.gateway.read_balance:
    # amount, currency); {}: nothing said.
    balance: dict = field(default_factory=dict)

    # The tool loop stopped at this reply, its calls unanswered: the turn's rounds (this
    # many requests) were spent (nexuschat.tool_loop).
    tool_limit: int | None = None

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
class ToolCall:
    """A function the model asked to call: the call's id, the function, its JSON arguments as
    text (as the model sent them), and who answers it (`source`)."""

    id: str
    name: str
    arguments: str
    source: str = ""  # "builtin", "user", an MCP server's name; "": not known (an import)

    def to_openai(self) -> dict:
        """The call as an assistant message's `tool_calls` carries it."""
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class ToolResult:
    """Which call a `tool` message answers, and how it went (its content is the result)."""

    call_id: str
    name: str = ""  # the function's name, as the call had it
    status: ToolStatus = "ok"  # ok; error: it failed (the content says why); stopped: by Stop
    duration_s: float | None = None


@dataclass(frozen=True)
class Message:
    """One turn: who spoke, the text, attached images, and for replies how they came to be.

    `reasoning` is what a reasoning model thought before answering: shown and stored, never
    sent back to a model (DeepSeek's API refuses a request that carries it). A reply may carry
    `tool_calls`; each is answered by a `tool` message after it, whose `tool_result` names the
    call.
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
    tool_calls: tuple[ToolCall, ...] = ()
    tool_result: ToolResult | None = None

    @property
    def status(self) -> Status:
        """complete, stopped (by the user) or error (cut off by a failure)."""
        return self.meta.status if self.meta else "complete"

    @property
    def calls_stand(self) -> bool:
        """Whether its tool calls are requests to answer: the reply ended as the model meant
        (not stopped, failed, cut at the token limit or filtered: such calls are only shown)."""
        meta = self.meta
        return bool(self.tool_calls) and (meta is None or (
            meta.status == "complete"
            and meta.finish_reason not in ("length", "content_filter")))


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
    reject image parts outright, and the note keeps the turn readable. A reply's standing tool
    calls go with it (its content null when the model wrote none, as the model sent it); a
    tool message carries the id of the call it answers.
    """
    if message.role == "tool" and message.tool_result is not None:
        return {"role": "tool", "tool_call_id": message.tool_result.call_id,
                "content": message.content}
    if message.calls_stand:
        return {"role": "assistant", "content": message.content or None,
                "tool_calls": [call.to_openai() for call in message.tool_calls]}
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
    """The whole conversation as the `messages` array: system prompt first, then every turn.

    The API takes tool messages only right after the reply whose calls they answer, and that
    reply only with every call answered: a result that answers no standing call of the reply
    before it is left out, and a call that got no result is answered with NOT_RUN_RESULT.
    """
    out: list[dict] = []
    if conversation.system_prompt.strip():
        out.append({"role": "system", "content": conversation.system_prompt})
    waiting: list[str] = []  # ids of the last reply's calls not answered yet, in order
    for message in sent_messages(conversation.messages):
        if message.role == "tool":
            answered = message.tool_result.call_id if message.tool_result else None
            if answered in waiting:
                waiting.remove(answered)
                out.append(message_to_openai(message))
            continue
        out.extend(_not_run(waiting))
        out.append(message_to_openai(message, vision=vision))
        waiting = [call.id for call in message.tool_calls] if message.calls_stand else []
    out.extend(_not_run(waiting))
    return out


def _not_run(call_ids: list[str]) -> list[dict]:
    return [{"role": "tool", "tool_call_id": call_id, "content": NOT_RUN_RESULT}
            for call_id in call_ids]


def has_images(conversation: Conversation) -> bool:
    """Whether any turn on the shown branch carries an image."""
    return any(m.images for m in conversation.messages)


@dataclass(frozen=True)
class ConversationTree:
    """Every message of a conversation, all branches, in creation order, and the leaf shown."""

    conversation: Conversation  # its `messages` are the path from the root to `leaf_id`
    messages: tuple[Message, ...]
    leaf_id: str | None = None
