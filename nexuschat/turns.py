"""What a turn sends and how its reply lands in the conversation: pure functions."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from nexuschat.conversation import (
    Conversation,
    Message,
    ReplyMeta,
    Status,
    ToolCall,
    new_id,
    to_openai,
)
from nexuschat.errors import ChatError
from nexuschat.gateway import normalize_finish_reason
from nexuschat.images import ImageError, PreparedImage
from nexuschat.limits import LimitHit
from nexuschat.models import ModelCatalog, Overrides, capabilities
from nexuschat.params import GenerationParams, validate
from nexuschat.streaming import ReplyAccumulator
from nexuschat.tool_loop import last_round

# "tools": answer the last reply's pending tool calls, then go on (nexuschat.tool_loop).
TurnKind = Literal["reply", "continue", "tools"]
# What an action asks the next run for: a turn, or a Retry (which turn: `turn_for`).
Pending = Literal["reply", "continue", "retry", "tools"]

INTERRUPTED = "error.interrupted"  # saved while a reply streams; replaced when it ends

# Sent (not shown, not stored) when the user asks to continue a reply cut at the token limit.
CONTINUE_PROMPT = "Continue exactly where your previous reply stopped, without repeating anything."


def request_messages(conversation: Conversation, kind: TurnKind, *,
                     vision: bool = True) -> list[dict]:
    """The `messages` array for this turn (images as text notes when the model cannot see)."""
    messages = to_openai(conversation, vision=vision)
    if kind == "continue":
        messages.append({"role": "user", "content": CONTINUE_PROMPT})
    return messages


def text_chars(messages: list[dict]) -> int:
    """How many characters of text a `messages` array carries (images not counted; tool
    calls' arguments are text)."""
    total = 0
    for message in messages:
        for call in message.get("tool_calls") or ():
            total += len(call["function"]["arguments"])
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(part.get("text") or "") for part in content
                         if isinstance(part, dict) and part.get("type") == "text")
    return total


def retry_kind(conversation: Conversation) -> TurnKind:
    """A failed continuation is continued again; any other failure is answered again."""
    last = conversation.last
    if last and last.role == "assistant" and last.status != "error":
        return "continue"
    return "reply"


def turn_for(pending: str | None, conversation: Conversation) -> TurnKind | None:
    """The turn an action asks for (None: no turn); a Retry is answered as `retry_kind` says."""
    if pending == "retry":
        return retry_kind(conversation)
    return pending if pending in ("reply", "continue", "tools") else None


def can_continue(message: Message) -> bool:
    """Whether a Continue action makes sense for this reply: it was cut at the token limit
    (whatever the server called that: `length`, `max_tokens`, `MAX_TOKENS`...) or stopped."""
    meta = message.meta
    return bool(
        message.role == "assistant" and meta and meta.status != "error"
        and (normalize_finish_reason(meta.finish_reason) == "length"
             or meta.status == "stopped")
    )


def reply_is_new(conversation: Conversation, kind: TurnKind) -> bool:
    """Whether this turn's reply is a new message (not a continuation or a retried failure)."""
    last = conversation.last
    if last is None or last.role != "assistant":
        return True
    return kind != "continue" and last.status != "error"


def redrawn_by_turn(conversation: Conversation, kind: TurnKind | None) -> bool:
    """Whether the turn about to run lands on the last message (it is continued, or a failed
    reply is answered again): the turn's bubble draws it, so the history above leaves it out."""
    return kind is not None and kind != "tools" and not reply_is_new(conversation, kind)


def redrawn_tail(conversation: Conversation, kind: TurnKind | None) -> int:
    """How many of the last messages the turn about to run draws in its own bubble: the one
    it lands on (`redrawn_by_turn`), or for "tools" the round whose calls it answers (the
    reply and the results it has)."""
    if kind == "tools":
        return len(last_round(conversation))
    return int(redrawn_by_turn(conversation, kind))


def failure_params(error: ChatError, now: float) -> dict:
    """What a failed reply keeps of its error: the plain values, and with the server's
    Retry-After, when a Retry may be sent (`retry_not_before`, a time stamp)."""
    params = {k: v for k, v in error.params.items() if isinstance(v, str | int | float)}
    if error.retry_after is not None:
        params["retry_after"] = error.retry_after
        params["retry_not_before"] = now + error.retry_after
    return params


def retry_not_before(conversation: Conversation) -> float | None:
    """When a Retry of the last reply may be sent, if its server said (`failure_params`)."""
    last = conversation.last
    value = last.meta.error_params.get("retry_not_before") if last and last.meta else None
    # A stored reply or an imported file may hold anything there: only a time counts.
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def retry_wait_s(not_before: float | None, now: float) -> float:
    """How much longer a Retry waits before it is sent (0: send it now)."""
    return max(0.0, not_before - now) if not_before else 0.0


def apply_reply(conversation: Conversation, kind: TurnKind, text: str,
                meta: ReplyMeta, reply_id: str | None = None,
                reasoning: str = "", tool_calls: tuple[ToolCall, ...] = ()) -> Conversation:
    """The conversation after a turn, whether it finished, was stopped or failed.

    A new reply gets `reply_id` (when given), so partial saves and the final one are one row.
    A continuation's reasoning and tool calls follow those the reply already had.
    """
    last = conversation.last
    if kind == "continue" and last is not None and last.role == "assistant":
        merged_meta = _continued_meta(last.meta or ReplyMeta(), meta)
        thought = "\n\n".join(r for r in (last.reasoning, reasoning) if r)
        return conversation.replace_last(
            replace(last, content=last.content + text, meta=merged_meta, reasoning=thought,
                    tool_calls=(*last.tool_calls, *tool_calls))
        )
    reply = Message("assistant", text, meta=meta, reasoning=reasoning, tool_calls=tool_calls,
                    **({"id": reply_id} if reply_id else {}))
    if last is not None and last.role == "assistant" and last.status == "error":
        # A retried failure is replaced; any partial text it had stays readable.
        earlier = (*last.earlier_attempts, last.content) if last.content else last.earlier_attempts
        return conversation.replace_last(replace(reply, id=last.id, earlier_attempts=earlier))
    return conversation.append(reply)


def _continued_meta(before: ReplyMeta, after: ReplyMeta) -> ReplyMeta:
    def total(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    failed = after.status == "error"
    return replace(
        after,
        # A failed continuation keeps the reply it extends usable; the error is shown on it.
        status=before.status if failed else after.status,
        finish_reason=before.finish_reason if failed else after.finish_reason,
        raw_finish_reason=before.raw_finish_reason if failed else after.raw_finish_reason,
        prompt_tokens=total(before.prompt_tokens, after.prompt_tokens),
        completion_tokens=total(before.completion_tokens, after.completion_tokens),
        total_tokens=total(before.total_tokens, after.total_tokens),
        reasoning_tokens=total(before.reasoning_tokens, after.reasoning_tokens),
        cached_tokens=total(before.cached_tokens, after.cached_tokens),
        # One price for the summed tokens: a continuation sent at another price (another
        # model) leaves the whole reply unpriced rather than priced wrong.
        price=after.price if not before.price or before.price == after.price else {},
        balance=after.balance or before.balance,
        ttft_s=before.ttft_s,
        duration_s=total_float(before.duration_s, after.duration_s),
        reasoning_s=total_float(before.reasoning_s, after.reasoning_s),
        refusal=before.refusal or after.refusal,
        skipped_parts=tuple(dict.fromkeys((*before.skipped_parts, *after.skipped_parts))),
    )


def total_float(a: float | None, b: float | None) -> float | None:
    """Sum of two optional durations."""
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


@dataclass(frozen=True)
class Draft:
    """A message the user wrote that was held back, with the reason it was not sent yet."""

    text: str
    images: tuple[PreparedImage, ...] = ()
    image_errors: tuple[ImageError, ...] = ()
    limit: LimitHit | None = None  # a limit of the deploy that holds it (message or request)
    unread: tuple[str, ...] = ()  # attached files left unread because of `limit`

    @property
    def empty(self) -> bool:
        """Nothing left to send."""
        return not self.text.strip() and not self.images


def blockers(draft: Draft, model: str, params: GenerationParams,
             overrides: Overrides | None = None, *, review_images: bool = False,
             catalog: ModelCatalog | None = None) -> list[str]:
    """Why `draft` is held: "limit", "images", "vision", "params", "review" (an empty list:
    send it). `catalog`: the deploy's (default: the bundled one)."""
    reasons = ["limit"] if draft.limit is not None else []
    if draft.image_errors:
        reasons.append("images")
    if draft.images and not capabilities(model, overrides, catalog).vision:
        reasons.append("vision")
    if validate(params):
        reasons.append("params")
    if review_images and draft.images and not reasons:
        reasons.append("review")  # the user asked to check images before they are sent
    return reasons


@dataclass
class LiveTurn:
    """A reply being streamed, filled in by the run that streams it.

    Streamlit may end that run on another thread (a Stop click, a new message), and then any
    Streamlit call there raises again, so the run only fills this in; whichever run comes next
    folds it into the conversation with `settle()`.
    """

    conversation: Conversation
    kind: TurnKind
    reply: ReplyAccumulator
    done: threading.Event = field(default_factory=threading.Event)
    status: Status = "complete"
    error_code: str | None = None
    error_params: dict = field(default_factory=dict)
    reply_id: str = field(default_factory=new_id)
    request: dict = field(default_factory=dict)  # kept with the reply (ReplyMeta.request)
    tool_sources: Mapping[str, str] = field(default_factory=dict)  # who answers each tool name

    def fail(self, code: str, params: dict | None = None) -> None:
        """Record why the reply could not finish."""
        self.status, self.error_code, self.error_params = "error", code, params or {}

    def end(self) -> None:
        """Mark the stream over (normally or not); the result may now be taken."""
        self.reply.finish()
        self.done.set()

    def settle(self, wait_s: float = 5.0) -> Conversation:
        """The conversation with this reply in it, however it ended."""
        if not self.done.wait(wait_s):
            self.status = "stopped"  # its run never reached `end`; keep what arrived
        meta = replace(self.reply.meta(self.status, self.error_code, self.error_params),
                       request=self.request)
        return apply_reply(self.conversation, self.kind, self.reply.content, meta,
                           self.reply_id, self.reply.reasoning, self.tool_calls())

    def snapshot(self) -> Message:
        """The reply as it stands mid-stream, marked interrupted: what a crash would leave."""
        meta = replace(self.reply.meta("error", INTERRUPTED), request=self.request)
        return apply_reply(self.conversation, self.kind, self.reply.content, meta,
                           self.reply_id, self.reply.reasoning, self.tool_calls()).last

    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The reply's tool calls so far, each with who answers it."""
        return tuple(replace(call, source=self.tool_sources.get(call.name, ""))
                     for call in self.reply.tool_calls)
