"""Reducers beside the chunk stream: reply text, finish_reason, usage, tool calls and timings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from nexuschat.conversation import ReplyMeta, Status


@dataclass(frozen=True)
class ToolCall:
    """A function the model asked to call, with its JSON arguments as text."""

    id: str
    name: str
    arguments: str


@dataclass
class _ToolCallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class ReplyAccumulator:
    """Folds chunks (SDK objects or plain dicts) into one reply; cheap per chunk."""

    started_at: float = field(default_factory=time.perf_counter)
    model: str = ""
    finish_reason: str | None = None
    usage: dict | None = None
    first_token_at: float | None = None
    ended_at: float | None = None
    chunks: int = 0
    _parts: dict[int, list[str]] = field(default_factory=dict)
    _finish: dict[int, str] = field(default_factory=dict)
    _tools: dict[int, _ToolCallParts] = field(default_factory=dict)

    def add(self, chunk: object) -> bool:
        """Take one chunk; choice 0 is the reply, others are kept for `n` > 1. Whether it
        brought anything to show (text, a tool call, the end): a role-only or usage-only
        chunk does not."""
        self.chunks += 1
        shown = False
        self.model = _get(chunk, "model") or self.model
        usage = _get(chunk, "usage")
        if usage:
            self.usage = _usage_dict(usage)
        for choice in _get(chunk, "choices") or ():
            index = _get(choice, "index") or 0
            delta = _get(choice, "delta")
            if delta is not None:
                text = _get(delta, "content")
                if text:
                    if self.first_token_at is None:
                        self.first_token_at = time.perf_counter()
                    self._parts.setdefault(index, []).append(text)
                    shown = True
                if index == 0:
                    for call in _get(delta, "tool_calls") or ():
                        self._add_tool_delta(call)
                        shown = True
            reason = _get(choice, "finish_reason")
            if reason:
                self._finish[index] = reason
                shown = True
                if index == 0:
                    self.finish_reason = reason
        return shown

    def _add_tool_delta(self, call: object) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        parts = self._tools.setdefault(_get(call, "index") or 0, _ToolCallParts())
        parts.id = _get(call, "id") or parts.id
        function = _get(call, "function")
        if function is not None:
            parts.name = _get(function, "name") or parts.name
            if _get(function, "arguments"):
                parts.arguments.append(_get(function, "arguments"))

    @property
    def text(self) -> str:
        """The reply so far (choice 0)."""
        return "".join(self._parts.get(0, ()))

    def choice_text(self, index: int) -> str:
        """The text of one of the `n` choices."""
        return "".join(self._parts.get(index, ()))

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Tool calls of choice 0, assembled from their fragments, in index order."""
        return [
            ToolCall(p.id, p.name, "".join(p.arguments))
            for _, p in sorted(self._tools.items())
        ]

    @property
    def complete(self) -> bool:
        """Whether the server said why the reply ended (the stream's last word)."""
        return self.finish_reason is not None

    def finish(self) -> None:
        """Mark the end of the stream (normal or not) for the timings."""
        self.ended_at = time.perf_counter()

    def meta(self, status: Status = "complete", error_code: str | None = None,
             error_params: dict | None = None) -> ReplyMeta:
        """The facts shown under the reply."""
        end = self.ended_at or time.perf_counter()
        usage = self.usage or {}
        return ReplyMeta(
            model=self.model,
            finish_reason=self.finish_reason,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            total_tokens=usage.get("total_tokens"),
            ttft_s=None if self.first_token_at is None else self.first_token_at - self.started_at,
            duration_s=end - self.started_at,
            status=status,
            error_code=error_code,
            error_params=error_params or {},
        )


def _get(obj: object, name: str):
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _usage_dict(usage: object) -> dict:
    return {
        key: _get(usage, key)
        for key in ("prompt_tokens", "completion_tokens", "total_tokens")
    }


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
