"""Reducers beside the chunk stream: reply text, reasoning, refusal, finish_reason, usage, tool
calls and timings; and time-paced batching."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from nexuschat.conversation import ReplyMeta, Status, ToolCall
from nexuschat.errors import ChatError
from nexuschat.gateway import count, normalize_finish_reason, read_balance, read_delta, read_usage
from nexuschat.params import MAX_CHOICES

__all__ = ["ReplyAccumulator", "ToolCall", "paced"]

MAX_SKIPPED_TYPES = 8  # distinct unknown part types noted on one reply
MAX_TOOL_CALLS = 64  # calls kept from one reply; more are ignored (a page could not show them)


@dataclass
class _ToolCallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    """What one of the other `n` choices (index > 0) brought besides its text."""

    chars: int = 0
    reasoning: list[str] = field(default_factory=list)
    reasoning_chars: int = 0
    refusal: list[str] = field(default_factory=list)
    reasoning_started_at: float | None = None
    answer_started_at: float | None = None


@dataclass
class ReplyAccumulator:
    """Folds chunks (plain dicts, as ChatStream decodes them) into one reply; cheap per chunk.

    A streamed chunk carries `delta`s; a whole completion (a server that answered a streaming
    request with plain JSON) carries `message`s, read the same way. Reasoning is kept apart
    from the answer, whichever field or content part it came in (nexuschat.gateway). Any
    shape is folded or ignored; only a chunk that is not an object raises (ChatError).
    """

    started_at: float = field(default_factory=time.perf_counter)
    model: str = ""
    finish_reason: str | None = None  # normalized (nexuschat.gateway.normalize_finish_reason)
    raw_finish_reason: str | None = None  # as the server sent it
    usage: dict | None = None
    first_token_at: float | None = None  # the first visible token: reasoning counts
    reasoning_started_at: float | None = None
    answer_started_at: float | None = None  # first answer text, refusal or tool call
    ended_at: float | None = None
    chunks: int = 0
    text_chars: int = 0  # of choice 0's answer, so a repaint can tell what changed cheaply
    price: dict = field(default_factory=dict)  # the price it is costed at (ReplyMeta.price)
    balance: dict | None = None  # what the server said is left (headers or a `balance` field)
    reasoning_chars: int = 0
    tool_chars: int = 0  # of choice 0's tool calls' names and arguments, likewise
    _parts: dict[int, list[str]] = field(default_factory=dict)
    _reasoning: list[str] = field(default_factory=list)
    _refusal: list[str] = field(default_factory=list)
    _skipped: dict[str, None] = field(default_factory=dict)
    _finish: dict[int, str] = field(default_factory=dict)
    _tools: dict[int, _ToolCallParts] = field(default_factory=dict)
    # The `n` candidates (indexes below MAX_CHOICES): which came, and each one's own timings.
    _seen: dict[int, None] = field(default_factory=dict)
    _first_at: dict[int, float] = field(default_factory=dict)
    _finished_at: dict[int, float] = field(default_factory=dict)
    _others: dict[int, _Choice] = field(default_factory=dict)

    def add(self, chunk: object) -> bool:
        """Take one chunk; choice 0 is the reply, others are kept for `n` > 1. Whether it
        brought anything to show (text, reasoning, a tool call, the end): a role-only or
        usage-only chunk does not."""
        self.chunks += 1
        if not isinstance(chunk, dict):
            raise ChatError("error.malformed", {"detail": type(chunk).__name__})
        shown = False
        model = chunk.get("model")
        if isinstance(model, str) and model:
            self.model = model[:200]
        usage = chunk.get("usage")
        if usage and (numbers := read_usage(usage)) is not None:
            self.usage = numbers
        if "balance" in chunk or (isinstance(usage, dict) and "balance" in usage):
            self.balance = read_balance(None, chunk) or self.balance
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return False
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index")
            if type(index) is not int:
                index = 0  # some servers leave it out
            if 0 <= index < MAX_CHOICES:
                self._seen.setdefault(index, None)
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                delta = choice.get("message")  # a whole completion
            if isinstance(delta, dict) and self._fold(index, delta):
                shown = True
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                self._finish[index] = reason[:100]
                self._finished_at.setdefault(index, time.perf_counter())
                shown = True
                if index == 0:
                    self.raw_finish_reason = reason[:100]
                    self.finish_reason = normalize_finish_reason(self.raw_finish_reason)
        return shown

    def _fold(self, index: int, delta: dict) -> bool:
        text, reasoning, refusal, skipped = read_delta(delta)
        calls = delta.get("tool_calls") if index == 0 else None
        calls = calls if isinstance(calls, list) else ()
        if not (text or reasoning or refusal or skipped or calls):
            return False
        now = time.perf_counter()
        if self.first_token_at is None and (text or reasoning or refusal or calls):
            self.first_token_at = now
        if text:
            self._parts.setdefault(index, []).append(text)
        if index != 0:
            return self._fold_other(index, text, reasoning, refusal, now)
        if text or reasoning or refusal or calls:
            self._first_at.setdefault(0, now)
        if reasoning:
            self._reasoning.append(reasoning)
            self.reasoning_chars += len(reasoning)
            if self.reasoning_started_at is None:
                self.reasoning_started_at = now
        if text:
            self.text_chars += len(text)
        if refusal:
            self._refusal.append(refusal)
        for kind in skipped:
            if len(self._skipped) < MAX_SKIPPED_TYPES:
                self._skipped.setdefault(kind, None)
        for call in calls:
            if isinstance(call, dict):
                self._add_tool_delta(call)
        if self.answer_started_at is None and (text or refusal or calls):
            self.answer_started_at = now
        return bool(text or reasoning or refusal or calls)

    def _fold_other(self, index: int, text: str, reasoning: str, refusal: str,
                    now: float) -> bool:
        """Another of the `n` choices: its reasoning, refusal and timings (tool calls are
        choice 0's only)."""
        if not 0 < index < MAX_CHOICES:
            return bool(text)
        choice = self._others.setdefault(index, _Choice())
        if text or reasoning or refusal:
            self._first_at.setdefault(index, now)
        choice.chars += len(text)
        if reasoning:
            choice.reasoning.append(reasoning)
            choice.reasoning_chars += len(reasoning)
            if choice.reasoning_started_at is None:
                choice.reasoning_started_at = now
        if refusal:
            choice.refusal.append(refusal)
        if choice.answer_started_at is None and (text or refusal):
            choice.answer_started_at = now
        return bool(text or reasoning or refusal)

    def _add_tool_delta(self, call: dict) -> None:
        """One fragment of a call. Servers differ: OpenAI sends the id and whole name first,
        then argument pieces under the same `index`; others split the name too, send the
        whole name again with every piece, or leave `index` out (Gemini's compatible API: a
        new id then means a new call)."""
        call_id = call.get("id") if isinstance(call.get("id"), str) else ""
        index = call.get("index")
        if type(index) is not int:
            index = self._unindexed(call_id)
        parts = self._tools.get(index)
        if parts is None:
            if len(self._tools) >= MAX_TOOL_CALLS:
                return
            parts = self._tools[index] = _ToolCallParts()
        if call_id:
            parts.id = call_id[:200]
        function = call.get("function")
        if not isinstance(function, dict):
            return
        name = function.get("name")
        if isinstance(name, str) and name:
            before = len(parts.name)
            # The whole name (again, or a longer prefix of it) replaces; a piece is added.
            parts.name = name if name.startswith(parts.name) else parts.name + name
            parts.name = parts.name[:200]
            self.tool_chars += len(parts.name) - before
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):  # some servers send the object itself
            arguments = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
        if isinstance(arguments, str) and arguments:
            parts.arguments.append(arguments)
            self.tool_chars += len(arguments)

    def _unindexed(self, call_id: str) -> int:
        """Where a fragment without an `index` goes: the latest call, unless it brings an id
        that call does not have (then it starts the next one)."""
        if not self._tools:
            return 0
        latest = max(self._tools)
        known = self._tools[latest].id
        return latest + 1 if call_id and known and call_id != known else latest

    @property
    def text(self) -> str:
        """The answer so far (choice 0), reasoning and refusal apart."""
        return "".join(self._parts.get(0, ()))

    @property
    def reasoning(self) -> str:
        """The model's reasoning so far (choice 0)."""
        return "".join(self._reasoning)

    @property
    def refusal(self) -> str:
        """Why the model declined, when it said so in a refusal (choice 0)."""
        return "".join(self._refusal)

    @property
    def content(self) -> str:
        """What the reply's message holds: the answer, or the refusal when there is no
        answer (both when both came)."""
        text, refusal = self.text, self.refusal
        if not refusal:
            return text
        return f"{text}\n\n{refusal}" if text else refusal

    @property
    def answering(self) -> bool:
        """Whether the answer (text, a refusal or a tool call) has begun."""
        return self.answer_started_at is not None

    @property
    def skipped_parts(self) -> tuple[str, ...]:
        """Types of content parts that carried nothing shown, in order of arrival."""
        return tuple(self._skipped)

    def choice_text(self, index: int) -> str:
        """The text of one of the `n` choices."""
        return "".join(self._parts.get(index, ()))

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Tool calls of choice 0, assembled from their fragments, in index order; a call the
        server gave no id gets one (`call_<n>`: its result must name it)."""
        return [
            ToolCall(p.id or f"call_{n}", p.name, "".join(p.arguments))
            for n, (_, p) in enumerate(sorted(self._tools.items()))
        ]

    @property
    def complete(self) -> bool:
        """Whether the server said why the reply ended (the stream's last word)."""
        return self.finish_reason is not None

    def finish(self) -> None:
        """Mark the end of the stream (normal or not) for the timings."""
        self.ended_at = time.perf_counter()

    def reasoning_seconds(self) -> float | None:
        """How long the model thought: its first reasoning token to the answer's start (or
        to now / the end, while it still thinks)."""
        if self.reasoning_started_at is None:
            return None
        until = self.answer_started_at or self.ended_at or time.perf_counter()
        return max(0.0, until - self.reasoning_started_at)

    def meta(self, status: Status = "complete", error_code: str | None = None,
             error_params: dict | None = None) -> ReplyMeta:
        """The facts shown under the reply (choice 0's, when `n` > 1 gave several)."""
        if len(self._seen) > 1:
            return self.choice_meta(0, status, error_code, error_params)
        return self._request_meta(status, error_code, error_params)

    def _request_meta(self, status: Status = "complete", error_code: str | None = None,
                      error_params: dict | None = None) -> ReplyMeta:
        end = self.ended_at or time.perf_counter()
        usage = self.usage or {}
        return ReplyMeta(
            model=self.model,
            finish_reason=self.finish_reason,
            raw_finish_reason=self.raw_finish_reason,
            prompt_tokens=count(usage.get("prompt_tokens")),
            completion_tokens=count(usage.get("completion_tokens")),
            total_tokens=count(usage.get("total_tokens")),
            reasoning_tokens=count(usage.get("reasoning_tokens")),
            cached_tokens=count(usage.get("cached_tokens")),
            price=dict(self.price),
            balance=dict(self.balance or {}),
            ttft_s=None if self.first_token_at is None else self.first_token_at - self.started_at,
            duration_s=end - self.started_at,
            reasoning_s=self.reasoning_seconds(),
            refusal=bool(self._refusal) and not self.text,
            skipped_parts=self.skipped_parts,
            status=status,
            error_code=error_code,
            error_params=error_params or {},
        )

    # ---------------------------------------------------------------- the `n` candidates

    @property
    def choice_indexes(self) -> tuple[int, ...]:
        """The candidates the server sent (index order; choice 0 always)."""
        return tuple(sorted({0, *self._seen}))

    def choice(self, index: int) -> ReplyAccumulator | ChoiceView:
        """One candidate, read with the names a painter reads (choice 0: this reply)."""
        return self if index == 0 else ChoiceView(self, index)

    def choice_reasoning(self, index: int) -> str:
        """One candidate's reasoning."""
        if index == 0:
            return self.reasoning
        other = self._others.get(index)
        return "".join(other.reasoning) if other else ""

    def choice_refusal(self, index: int) -> str:
        """One candidate's refusal, when it declined."""
        if index == 0:
            return self.refusal
        other = self._others.get(index)
        return "".join(other.refusal) if other else ""

    def choice_content(self, index: int) -> str:
        """What one candidate's message holds (as `content` for choice 0)."""
        text, refusal = self.choice_text(index), self.choice_refusal(index)
        if not refusal:
            return text
        return f"{text}\n\n{refusal}" if text else refusal

    def choice_complete(self, index: int) -> bool:
        """Whether the server said why this candidate ended."""
        return index in self._finish

    def choice_meta(self, index: int, status: Status = "complete",
                    error_code: str | None = None, error_params: dict | None = None) -> ReplyMeta:
        """One candidate's facts: its own finish reason and timings; the request's usage,
        shared by every candidate (`candidates` says by how many)."""
        meta = self._request_meta(status, error_code, error_params)
        raw = self._finish.get(index)
        first = self._first_at.get(index)
        end = self._finished_at.get(index) or self.ended_at or time.perf_counter()
        other = self._others.get(index)
        reasoning_s = meta.reasoning_s
        if other is not None:
            reasoning_s = None if other.reasoning_started_at is None else max(
                0.0, (other.answer_started_at or end) - other.reasoning_started_at)
        return replace(
            meta,
            finish_reason=normalize_finish_reason(raw) if raw else None,
            raw_finish_reason=raw,
            ttft_s=None if first is None else first - self.started_at,
            duration_s=end - self.started_at,
            reasoning_s=reasoning_s if index else meta.reasoning_s,
            refusal=bool(self.choice_refusal(index)) and not self.choice_text(index),
            skipped_parts=meta.skipped_parts if index == 0 else (),
            candidate=index,
            candidates=len(self.choice_indexes),
        )

    @property
    def output_chars(self) -> int:
        """Every character the request's candidates wrote: texts, reasoning and refusals."""
        texts = sum(len(piece) for parts in self._parts.values() for piece in parts)
        others = sum(o.reasoning_chars + sum(map(len, o.refusal)) for o in self._others.values())
        return texts + self.reasoning_chars + len(self.refusal) + others


@dataclass(frozen=True)
class ChoiceView:
    """One of the other `n` candidates of a reply, with the names `ReplyAccumulator` gives
    choice 0 (what a painter reads)."""

    reply: ReplyAccumulator
    index: int

    @property
    def _choice(self) -> _Choice:
        return self.reply._others.get(self.index) or _Choice()

    @property
    def tool_chars(self) -> int:
        """Always 0: tool calls are choice 0's only."""
        return 0

    @property
    def tool_calls(self) -> list:
        """Always empty: tool calls are choice 0's only."""
        return []

    @property
    def text(self) -> str:
        """The candidate's answer so far."""
        return self.reply.choice_text(self.index)

    @property
    def text_chars(self) -> int:
        """How long its answer is so far (cheap)."""
        return self._choice.chars

    @property
    def reasoning(self) -> str:
        """Its reasoning so far."""
        return self.reply.choice_reasoning(self.index)

    @property
    def reasoning_chars(self) -> int:
        """How long its reasoning is so far (cheap)."""
        return self._choice.reasoning_chars

    @property
    def refusal(self) -> str:
        """Its refusal, when it declined."""
        return self.reply.choice_refusal(self.index)

    @property
    def answering(self) -> bool:
        """Whether its answer has begun."""
        return self._choice.answer_started_at is not None

    def reasoning_seconds(self) -> float | None:
        """How long it thought (so far)."""
        choice = self._choice
        if choice.reasoning_started_at is None:
            return None
        until = choice.answer_started_at or self.reply.ended_at or time.perf_counter()
        return max(0.0, until - choice.reasoning_started_at)


def paced(source: Iterable, fold: Callable[[object], bool | None],
          interval: float = 0.04) -> Iterator[int]:
    """Feed `source` to `fold` on a worker thread; yield how many items are folded, at most once
    per `interval` while items arrive.

    The consumer repaints at a bounded rate, never per item. A first item after a quiet spell is
    yielded at once (the first token is not held for a clock tick); while items keep coming,
    yields are `interval` apart. An item for which `fold` returns False (nothing to show, such
    as a role-only chunk) does not count as arriving. With nothing new the consumer still
    wakes every `interval` (the same count again), so it stays responsive to a Stop while the
    server is silent.
    Items are folded as they arrive and dropped at once: holding thousands of parsed chunks
    between ticks wakes the garbage collector, which stalls the reader (measured: ~0.1 s per
    8,000-token reply). A failure of the source is raised here after the last yield. Closing
    this generator closes the source (its `close()`), which ends the worker.
    """
    folded = 0
    failure: BaseException | None = None
    finished, arrived = threading.Event(), threading.Event()

    def pump() -> None:
        nonlocal folded, failure
        try:
            for item in source:
                shown = fold(item)
                folded += 1
                if shown is not False and not arrived.is_set():
                    arrived.set()  # (setting takes a lock and notifies: only when it changes)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            failure = exc
        finally:
            finished.set()
            arrived.set()

    threading.Thread(target=pump, name="nexuschat-stream", daemon=True).start()
    try:
        last = -interval
        while not finished.is_set():
            if not arrived.wait(interval):
                yield folded  # nothing new: a heartbeat
                continue
            if (hold := last + interval - time.monotonic()) > 0 and finished.wait(hold):
                break
            arrived.clear()  # before reading the count: a later item sets it again
            last = time.monotonic()
            yield folded
        yield folded
        if failure is not None:
            raise failure
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
