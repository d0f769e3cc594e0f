"""The tool loop's rules (pure, and the threads tools run on): what a request offers, which calls
of a turn still want an answer, how a call becomes its result, and when the loop stops.

One turn of the loop: a request; if its reply carries standing tool calls (`Message.calls_stand`)
the app answers each with a `tool` message after it (built-ins and MCP tools run here, the
user types the answer to their own), and sends the next request; until a reply has no calls,
or the turn's `max_rounds` requests are spent (the calls of the last stay unanswered, said so
on it: `ReplyMeta.tool_limit`). Calls run on worker threads (`LiveTools`), so the page stays
responsive to Stop while one runs; a call that fails or times out is answered with what went
wrong, and the turn goes on.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from nexuschat.conversation import (
    Conversation,
    Message,
    ReplyMeta,
    ToolCall,
    ToolResult,
    ToolStatus,
)
from nexuschat.params import GenerationParams
from nexuschat.tools import SOURCE_USER, Tool, ToolContext, ToolFailure, parse_arguments

DEFAULT_ROUNDS = 8  # requests one turn may send while the model keeps calling tools
MAX_ROUNDS = 50
# A call that takes longer is answered with a timeout. Past the MCP client's own limit
# (mcp_tools.CALL_TIMEOUT_S), so a slow server's own words reach the model first.
RUN_TIMEOUT_S = 65.0
MAX_PARALLEL = 4  # calls of one reply run at once
MAX_RESULT_CHARS = 50_000  # a longer result is cut (the model pays for every character)
_FALSE = ("0", "false", "no", "off")

# What the model is told (plain English: the model reads these, not the user).
STOPPED_RESULT = "The user stopped this tool call before it finished."
NO_SUCH_TOOL = "There is no tool named {name!r} here; the available tools are: {names}."


@dataclass(frozen=True)
class ToolSettings:
    """What the deployer set: whether tools start switched on, and the most requests one turn
    sends while the model keeps calling tools."""

    enabled: bool = True
    max_rounds: int = DEFAULT_ROUNDS


def resolve_tool_settings(secrets: Mapping[str, object] | None = None,
                          env: Mapping[str, str] | None = None) -> ToolSettings:
    """NEXUSCHAT_TOOLS (on / off) and NEXUSCHAT_TOOL_ROUNDS (1 to 50), secrets > environment;
    a value that does not read keeps the default."""
    secrets = secrets or {}
    env = os.environ if env is None else env

    def pick(name: str) -> str:
        value = secrets.get(name)
        if value is None or not str(value).strip():
            value = env.get(name, "")
        return str(value).strip().lower()

    switch, rounds = pick("NEXUSCHAT_TOOLS"), pick("NEXUSCHAT_TOOL_ROUNDS")
    enabled = switch not in _FALSE
    try:
        max_rounds = min(MAX_ROUNDS, max(1, int(rounds))) if rounds else DEFAULT_ROUNDS
    except ValueError:
        max_rounds = DEFAULT_ROUNDS
    return ToolSettings(enabled, max_rounds)


@dataclass(frozen=True)
class Toolbox:
    """The tools one request offers, each name once (the first of a name wins: built-ins,
    then MCP servers' in the deploy's order, then the user's own)."""

    tools: tuple[Tool, ...] = ()

    def get(self, name: str) -> Tool | None:
        """The tool the model means by `name`, if offered."""
        return next((tool for tool in self.tools if tool.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        """The offered names, in order."""
        return tuple(tool.name for tool in self.tools)

    def sources(self) -> dict[str, str]:
        """Who answers each name (Tool.source)."""
        return {tool.name: tool.source for tool in self.tools}


NO_TOOLS = Toolbox()


def toolbox(*groups: Iterable[Tool]) -> Toolbox:
    """The groups' tools together, a name taken by an earlier tool left out."""
    seen: dict[str, Tool] = {}
    for group in groups:
        for tool in group:
            seen.setdefault(tool.name, tool)
    return Toolbox(tuple(seen.values()))


def tools_request(box: Toolbox, params: GenerationParams, *, first_round: bool) -> dict:
    """The request fields for the tools offered: `tools`, and `tool_choice` as the user set it
    (nothing for auto); nothing at all without tools.

    A choice that forces a call ("required", a named function) holds for a turn's first
    request only, as the OpenAI Agents SDK resets it: after the results the model may answer,
    else every round would call again until the limit. A named function that is not offered
    is not sent (the Settings page says so).
    """
    if not box.tools:
        return {}
    body: dict = {"tools": [tool.to_request() for tool in box.tools]}
    choice = params.tool_choice
    if choice == "none":
        body["tool_choice"] = "none"
    elif first_round and choice == "required":
        body["tool_choice"] = "required"
    elif first_round and choice == "function" and params.tool_function in box.names:
        body["tool_choice"] = {"type": "function", "function": {"name": params.tool_function}}
    return body


# --- where a turn stands ---------------------------------------------------------------------


def last_round(conversation: Conversation) -> tuple[Message, ...]:
    """The reply whose standing calls the conversation ends with, and the results after it;
    () when it ends otherwise."""
    messages = conversation.messages
    at = len(messages)
    while at and messages[at - 1].role == "tool":
        at -= 1
    if at and continues(messages[at - 1]):
        return messages[at - 1:]
    return ()


def rounds_used(conversation: Conversation) -> int:
    """How many requests the turn the conversation ends with has sent: its replies since the
    user last spoke (a turn paused for the user's own tool goes on counting)."""
    used = 0
    for message in reversed(conversation.messages):
        if message.role == "user":
            break
        used += message.role == "assistant"
    return used


def at_limit(conversation: Conversation, max_rounds: int) -> bool:
    """Whether the turn has sent its `max_rounds` requests: the calls it ends with stay
    unanswered (the last reply says so: `with_limit`)."""
    return rounds_used(conversation) >= max_rounds


def with_limit(reply: Message, max_rounds: int) -> Message:
    """The reply marked as where the loop stopped, its calls not run."""
    meta = reply.meta or ReplyMeta()
    return replace(reply, meta=replace(meta, tool_limit=max_rounds))


def pending_calls(conversation: Conversation) -> tuple[ToolCall, ...]:
    """The calls of the last round that have no result yet, in the model's order."""
    found = last_round(conversation)
    if not found:
        return ()
    answered = [m.tool_result.call_id for m in found[1:] if m.tool_result is not None]
    waiting = []
    for call in found[0].tool_calls:
        if call.id in answered:
            answered.remove(call.id)  # ids may repeat within a reply: one answer each
        else:
            waiting.append(call)
    return tuple(waiting)


def results_by_reply(messages: Sequence[Message]) -> dict[str, dict[str, Message]]:
    """For each reply with calls, its results by call id (the tool messages right after it):
    what the page draws inside the reply. Ids are only unique within a reply (some servers
    number every reply's calls from 0)."""
    out: dict[str, dict[str, Message]] = {}
    current: dict[str, Message] | None = None
    for message in messages:
        if message.role == "tool":
            if current is not None and message.tool_result is not None:
                current.setdefault(message.tool_result.call_id, message)
            continue
        current = out.setdefault(message.id, {}) if message.tool_calls else None
    return out


def continues(reply: Message) -> bool:
    """Whether the loop goes on after this reply: it ended as the model meant, with calls,
    and not at the round limit."""
    return (reply.role == "assistant" and reply.calls_stand
            and (reply.meta is None or reply.meta.tool_limit is None))


# --- running a call ------------------------------------------------------------------------


def run_call(tool: Tool | None, call: ToolCall, context: ToolContext,
             names: Sequence[str] = ()) -> tuple[str, ToolStatus]:
    """What answers `call`, on this thread: the tool's result, or why there is none (the
    arguments are not an object, the tool failed or raised, no such tool)."""
    if tool is None or tool.run is None:
        return NO_SUCH_TOOL.format(name=call.name, names=", ".join(names) or "none"), "error"
    try:
        result = tool.run(parse_arguments(call.arguments), context)
    except ToolFailure as failure:
        return f"Error: {failure.message}", "error"
    except Exception as exc:  # noqa: BLE001 - any failure is told to the model, not raised
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        return f"Error: the tool failed ({type(exc).__name__}{': ' + detail if detail else ''})", \
            "error"
    return cut_result(result if isinstance(result, str) else json.dumps(result)), "ok"


def pretty_json(text: str) -> str:
    """JSON text indented for reading (as the page and the Markdown export show arguments and
    results); anything else, arguments half-streamed included, as it is."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except (ValueError, RecursionError):
        return text


def cut_result(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    """A result within `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[{len(text) - limit} more characters cut]"


def result_message(call: ToolCall, text: str, status: ToolStatus = "ok",
                   duration_s: float | None = None) -> Message:
    """The `tool` message answering `call` (its parent is set when it is appended)."""
    return Message("tool", text, tool_result=ToolResult(call.id, call.name, status, duration_s))


def answered_by_user(call: ToolCall) -> bool:
    """Whether the user types this call's result (a tool of their own)."""
    return call.source == SOURCE_USER


@dataclass
class _Run:
    call: ToolCall
    started: float = 0.0
    text: str | None = None
    status: ToolStatus = "ok"
    ended: float | None = None


@dataclass
class LiveTools:
    """The calls of one reply being run, on worker threads, filled in as they finish.

    Streamlit may end the run that waits for them (Stop, another click); the next run then
    takes what finished and answers the rest as stopped (`settle`), like `turns.LiveTurn`.
    Results are taken in the model's order (`take_ready`), each as soon as it and every call
    before it have one.
    """

    conversation: Conversation  # ends with the reply whose calls run (and results before)
    calls: tuple[ToolCall, ...]
    timeout_s: float = RUN_TIMEOUT_S
    _runs: list[_Run] = field(default_factory=list)
    _taken: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Event = field(default_factory=threading.Event)

    def start(self, box: Toolbox, context: ToolContext) -> LiveTools:
        """Run every call (at most MAX_PARALLEL at once); returns self."""
        gate = threading.Semaphore(MAX_PARALLEL)
        self._runs = [_Run(call) for call in self.calls]
        for run in self._runs:
            tool = box.get(run.call.name)
            threading.Thread(target=self._work, args=(run, tool, context, box.names, gate),
                             name="nexuschat-tool", daemon=True).start()
        return self

    def _work(self, run: _Run, tool: Tool | None, context: ToolContext,
              names: tuple[str, ...], gate: threading.Semaphore) -> None:
        with gate:
            run.started = time.monotonic()
            text, status = run_call(tool, run.call, context, names)
        with self._lock:
            if run.text is None:  # not timed out or stopped meanwhile
                run.text, run.status, run.ended = text, status, time.monotonic()
        self._changed.set()

    def wait(self, seconds: float) -> None:
        """Wait up to `seconds` for a call to finish; calls past their time are answered with
        a timeout."""
        self._changed.wait(seconds)
        self._changed.clear()
        now = time.monotonic()
        with self._lock:
            for run in self._runs:
                if run.text is None and run.started and now - run.started > self.timeout_s:
                    run.text = (f"Error: the tool did not answer within "
                                f"{self.timeout_s:.0f} s")
                    run.status, run.ended = "error", now

    def take_ready(self) -> list[Message]:
        """The results not taken yet whose calls, and every call before them, have finished."""
        out = []
        with self._lock:
            while self._taken < len(self._runs) and self._runs[self._taken].text is not None:
                out.append(self._message(self._runs[self._taken]))
                self._taken += 1
        return out

    @property
    def done(self) -> bool:
        """Whether every result has been taken."""
        return self._taken == len(self._runs)

    def running(self) -> set[str]:
        """Ids of the calls still running (shown with a spinner)."""
        with self._lock:
            return {r.call.id for r in self._runs[self._taken:] if r.text is None}

    def settle(self) -> list[Message]:
        """Every result not taken yet: finished ones as they are, the rest stopped (a Stop
        or another click ended the run that waited)."""
        now = time.monotonic()
        with self._lock:
            for run in self._runs[self._taken:]:
                if run.text is None:
                    run.text, run.status, run.ended = STOPPED_RESULT, "stopped", now
        return self.take_ready()

    @staticmethod
    def _message(run: _Run) -> Message:
        duration = None if run.ended is None or not run.started else run.ended - run.started
        return result_message(run.call, run.text or "", run.status, duration)
