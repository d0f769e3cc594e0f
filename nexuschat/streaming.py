"""Reducers beside the chunk stream: reply text, finish_reason, usage, tool calls and timings."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
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

    def add(self, chunk: object) -> None:
        """Take one chunk; choice 0 is the reply, others are kept for `n` > 1."""
        self.chunks += 1
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
                if index == 0:
                    for call in _get(delta, "tool_calls") or ():
                        self._add_tool_delta(call)
            reason = _get(choice, "finish_reason")
            if reason:
                self._finish[index] = reason
                if index == 0:
                    self.finish_reason = reason

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


_END = object()


def paced(source: Iterable, interval: float = 0.08) -> Iterator[list]:
    """Chunks from `source` in batches, one batch per `interval` (empty when nothing came).

    The source is read on a worker thread, so the consumer wakes on a steady clock: it can
    repaint at a bounded rate, and stay responsive to a Stop while the server is silent.
    Closing this generator closes the source (its `close()`), which ends the worker.
    """
    inbox: queue.SimpleQueue = queue.SimpleQueue()

    def pump() -> None:
        try:
            for item in source:
                inbox.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            inbox.put(_Failure(exc))
        inbox.put(_END)

    worker = threading.Thread(target=pump, name="nexuschat-stream", daemon=True)
    worker.start()
    try:
        while True:
            deadline = time.perf_counter() + interval
            batch: list = []
            while (left := deadline - time.perf_counter()) > 0:
                try:
                    item = inbox.get(timeout=left)
                except queue.Empty:
                    break
                if item is _END:
                    yield batch
                    return
                if isinstance(item, _Failure):
                    if batch:
                        yield batch
                    raise item.exc
                batch.append(item)
            yield batch
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class _Failure:
    exc: BaseException
