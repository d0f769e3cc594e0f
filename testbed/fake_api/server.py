"""An OpenAI-compatible chat completions server on loopback, scriptable to fail.

Pure standard library. Real HTTP/1.1, real JSON, real SSE sent with chunked transfer encoding,
so that failures (hangs, stalls, cuts, malformed events) reach the client exactly as they would
from a real server.

Replies come in the shapes real gateways send (our own fixtures, modelled on their published
documentation and on other projects' recordings of real servers): reasoning as
`reasoning_content` (DeepSeek, DashScope), `reasoning` (OpenRouter, Ollama), both at once
(vLLM), OpenRouter's `reasoning_details` or Mistral's `thinking` content parts; content as a
list of parts (Mistral); refusals; a plain JSON completion for a streaming request; any
finish reason; error bodies of any shape and content type; and `raw` events sent verbatim.
A `gate` holds a reply between its reasoning and its answer until the test releases it, and an
`answer_gate` holds it again after `answer_gate_after` pieces of the answer. A reply's
`balance` is sent as an `X-Balance` header (with `balance_currency` as `X-Balance-Currency`),
`headers` as they are, `usage_extra` merged into its usage (`prompt_tokens_details`...),
`prompt_tokens` in place of the counted prompt size; an
`error` with status 402 is an account out of balance, as DeepSeek sends it.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import re
import socket
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_MODELS = ["claude-sonnet-4-6", "qwen3.5-plus", "qwen-vl-max", "text-only-model"]
KINDS = {"reply", "error", "hang", "stall", "cut", "end_early", "malformed", "stream_error",
         "redirect", "raw"}
REASONING_FIELDS = {"reasoning_content", "reasoning", "both", "reasoning_details",
                    "thinking_parts"}
GATE_TIMEOUT_S = 30.0
IMAGE_TOKENS = 85

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("insufficient_balance_error", "insufficient_balance"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}
_TOKEN_RE = re.compile(r"\s*\S+\s*|\s+")
_CONNECTION_ERRORS = (ConnectionError, TimeoutError, OSError)


def error_body(status: int, message: str, type_: str | None = None, code: Any = None) -> dict:
    """An OpenAI-style error object for an HTTP status."""
    default_type, default_code = _ERROR_TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {
        "error": {
            "message": message,
            "type": type_ or default_type,
            "code": code if code is not None else default_code,
        }
    }


def message_text(message: dict) -> str:
    """The text of a chat message: its string content or the concatenation of its text parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def image_count(message: dict) -> int:
    """How many image_url parts a chat message carries."""
    content = message.get("content")
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")


def prompt_tokens(body: dict) -> int:
    """Rough prompt size: whitespace-separated words plus a flat cost per image."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    return sum(len(message_text(m).split()) + IMAGE_TOKENS * image_count(m) for m in messages)


def split_tokens(text: str, per_chunk: int = 1) -> list[str]:
    """Split text into chunks of `per_chunk` words, keeping whitespace so joining is lossless."""
    words = _TOKEN_RE.findall(text)
    per_chunk = max(1, int(per_chunk))
    return ["".join(words[i : i + per_chunk]) for i in range(0, len(words), per_chunk)]


def reasoning_text(behaviour: dict) -> str:
    """The reasoning a behaviour sends before its answer: explicit, generated tokens, or none."""
    if behaviour.get("reasoning") is not None:
        return str(behaviour["reasoning"])
    if behaviour.get("reasoning_tokens") is not None:
        return "".join(f"r{i} " for i in range(int(behaviour["reasoning_tokens"])))
    return ""


def reply_text(behaviour: dict, body: dict) -> str | None:
    """The reply text for a behaviour: explicit text, generated tokens, or an echo."""
    if behaviour.get("text") is not None:
        return str(behaviour["text"])
    if behaviour.get("tokens") is not None:
        return "".join(f"w{i} " for i in range(int(behaviour["tokens"])))
    if behaviour.get("tool_calls") or behaviour.get("refusal") is not None:
        return None
    if (answer := tool_results_text(body)) is not None:
        return answer
    users = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [m for m in users if m.get("role") == "user"]
    last = users[-1] if users else {}
    text = "Echo: " + message_text(last)
    if images := image_count(last):
        text += f" [images: {images}]"
    return text


def reply_headers(behaviour: dict) -> dict:
    """The headers a reply is sent with: its `headers`, and its `balance` as a gateway's
    `X-Balance` (with `X-Balance-Currency` when `balance_currency` is given)."""
    headers = dict(behaviour.get("headers") or {})
    if behaviour.get("balance") is not None:
        headers["X-Balance"] = str(behaviour["balance"])
        if behaviour.get("balance_currency"):
            headers["X-Balance-Currency"] = str(behaviour["balance_currency"])
    return headers

_CALCULATE_RE = re.compile(r"\bcalculate\s+([0-9+\-*/().%\s]*[0-9)])", re.IGNORECASE)
_CAPITAL_RE = re.compile(r"\bcapital of (\w+)", re.IGNORECASE)
_CALL_RE = re.compile(r"\bcall ([A-Za-z0-9_-]+) with (\{.*\})", re.DOTALL)
TOOL_STYLES = {"openai", "split_name", "no_index", "whole", "interleaved"}


def offered_tools(body: dict) -> list[str]:
    """The function names a request offers (`tools`), unless `tool_choice` is "none"."""
    if body.get("tool_choice") == "none":
        return []
    return [t["function"]["name"] for t in body.get("tools") or []
            if isinstance(t, dict) and isinstance(t.get("function"), dict)
            and isinstance(t["function"].get("name"), str)]


def auto_tool_calls(body: dict) -> list[dict]:
    """The calls a model would make for the last user message, when it is the last message
    and the tools are offered: "calculate 2+3 and 4*5" (a `calculate` call each), "capital of
    Japan" (a `<server>__capital` call), "call NAME with {json}"; a forced `tool_choice`
    calls its function (or the first tool) even without a trigger."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    names = offered_tools(body)
    if not messages or messages[-1].get("role") != "user" or not names:
        return []
    text = message_text(messages[-1])
    calls = []
    if "calculate" in names:
        calls += [{"name": "calculate", "arguments": json.dumps({"expression": e.strip()})}
                  for part in text.split(" and ") for e in _CALCULATE_RE.findall(part)]
    capital = next((n for n in names if n.endswith("__capital")), None)
    if capital is not None:
        calls += [{"name": capital, "arguments": json.dumps({"country": c})}
                  for c in _CAPITAL_RE.findall(text)]
    for name, arguments in _CALL_RE.findall(text):
        if name in names:
            calls.append({"name": name, "arguments": arguments})
    choice = body.get("tool_choice")
    forced = (choice["function"].get("name") if isinstance(choice, dict)
              and isinstance(choice.get("function"), dict) else None)
    if forced is not None:
        calls = [c for c in calls if c["name"] == forced] or [{"name": forced,
                                                               "arguments": "{}"}]
    elif choice == "required" and not calls:
        calls = [{"name": names[0], "arguments": "{}"}]
    return calls


def tool_results_text(body: dict) -> str | None:
    """The answer after tool results (the request ends with `tool` messages): each result
    quoted, in order; None otherwise."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    results = []
    while messages and messages[-1].get("role") == "tool":
        results.insert(0, message_text(messages.pop()))
    if not results:
        return None
    return "The tools answered: " + "; ".join(results) + "."


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    fake: FakeAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away; report real bugs."""
        if not isinstance(sys.exc_info()[1], _CONNECTION_ERRORS):
            super().handle_error(request, client_address)


class FakeAPI:
    """An OpenAI-compatible chat completions server on loopback, scriptable to fail."""

    def __init__(self, *, expected_key: str | None = None, models: list[str] | None = None):
        self.expected_key = expected_key
        self._models = list(models if models is not None else DEFAULT_MODELS)
        self._models_failure: int | None = None
        self._queue: deque[dict] = deque()
        self._requests: list[dict] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._gates: dict[str, threading.Event] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self, port: int = 0) -> FakeAPI:
        """Bind 127.0.0.1 (port 0 = a free port) and serve in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection (including idle keep-alive ones)."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "FakeAPI is not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    # scripting

    def script(self, *behaviours: dict) -> None:
        """Queue behaviours; each chat request pops one, an empty queue gives the default reply."""
        for b in behaviours:
            if not isinstance(b, dict) or b.get("kind") not in KINDS:
                raise ValueError(f"unknown behaviour: {b!r}")
            if b.get("reasoning_field", "reasoning_content") not in REASONING_FIELDS:
                raise ValueError(f"unknown reasoning_field: {b['reasoning_field']!r}")
        with self._lock:
            self._queue.extend(copy.deepcopy(list(behaviours)))

    def set_models(self, ids: list[str]) -> None:
        """Set the ids GET /v1/models lists."""
        with self._lock:
            self._models = list(ids)

    def fail_models(self, status: int | None) -> None:
        """Make GET /v1/models answer this status (None = succeed)."""
        with self._lock:
            self._models_failure = status

    def release(self, gate: str) -> None:
        """Let replies held at `gate` (a behaviour's `gate`) go on to their answer."""
        self._gate(gate).set()

    def _gate(self, name: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def reset(self) -> None:
        """Clear the behaviour queue, recorded requests, gates and model failure."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            for gate in self._gates.values():
                gate.set()  # nothing stays held by a test that ended
            self._gates.clear()
            self._models_failure = None

    @property
    def requests(self) -> list[dict]:
        """A copy of every recorded request to /v1/*."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def chat_requests(self) -> list[dict]:
        """The parsed JSON bodies of every POST /v1/chat/completions."""
        return [
            r["body"]
            for r in self.requests
            if r["method"] == "POST" and r["path"] == "/v1/chat/completions"
        ]

    # used by the handler

    def _record(self, entry: dict) -> None:
        with self._lock:
            self._requests.append(entry)

    def _next_behaviour(self) -> dict:
        with self._lock:
            return self._queue.popleft() if self._queue else {"kind": "reply"}

    def _models_state(self) -> tuple[list[str], int | None]:
        with self._lock:
            return list(self._models), self._models_failure

    def _next_id(self) -> str:
        with self._lock:
            return f"chatcmpl-fake{next(self._ids)}"

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)


class _Cut(Exception):
    """Raised inside a handler to drop the connection abruptly."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    @property
    def fake(self) -> FakeAPI:
        return self.server.fake

    def setup(self) -> None:
        super().setup()
        self.fake._track(self.connection, True)

    def finish(self) -> None:
        self.fake._track(self.connection, False)
        with contextlib.suppress(*_CONNECTION_ERRORS):
            super().finish()

    def handle(self) -> None:
        try:
            super().handle()
        except _Cut:
            self._drop()
        except _CONNECTION_ERRORS:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # plumbing

    def _drop(self) -> None:
        """Close the socket without finishing the response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send_json(self, status: int, obj: Any, headers: dict | None = None) -> None:
        self._send_raw(status, json.dumps(obj).encode(), headers)

    def _send_raw(
        self, status: int, data: bytes, headers: dict | None = None, ctype: str = "application/json"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _start_stream(self, ctype: str = "text/event-stream; charset=utf-8",
                      headers: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.flush()

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_event(self, obj: Any) -> None:
        payload = obj if isinstance(obj, str) else json.dumps(obj)
        self._send_chunk(f"data: {payload}\n\n".encode())

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _sleep(self, seconds: float | None) -> None:
        if seconds and seconds > 0:
            self.fake._stopping.wait(seconds)

    # routing

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        if path.startswith("/_fake/"):
            return self._control(method, path, body)
        if path.startswith("/v1/"):
            self.fake._record(
                {
                    "method": method,
                    "path": path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "received_at": time.time(),
                }
            )
            key = self.fake.expected_key
            if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
                return self._send_json(401, error_body(401, "Incorrect API key provided"))
        if method == "GET" and path == "/v1/models":
            return self._models()
        if method == "POST" and path == "/v1/chat/completions":
            if not isinstance(body, dict):
                return self._send_json(400, error_body(400, "Request body must be a JSON object"))
            return self._chat(body)
        self._send_json(404, error_body(404, f"Unknown endpoint: {method} {path}", code=None))

    def _control(self, method: str, path: str, body: Any) -> None:
        fake = self.fake
        try:
            if method == "POST" and path == "/_fake/script":
                fake.script(*(body or []))
            elif method == "GET" and path == "/_fake/requests":
                return self._send_json(200, fake.requests)
            elif method == "POST" and path == "/_fake/reset":
                fake.reset()
            elif method == "POST" and path == "/_fake/release":
                fake.release(str((body or {}).get("gate")))
            elif method == "POST" and path == "/_fake/models":
                body = body or {}
                if "ids" in body:
                    fake.set_models(body["ids"])
                if "fail" in body:
                    fake.fail_models(body["fail"])
            else:
                return self._send_json(404, {"error": f"unknown control {method} {path}"})
        except (TypeError, ValueError) as exc:
            return self._send_json(400, {"error": str(exc)})
        self._send_json(200, {"ok": True})

    def _models(self) -> None:
        ids, failure = self.fake._models_state()
        if failure is not None:
            return self._send_json(failure, error_body(failure, f"models failed ({failure})"))
        data = [{"id": i, "object": "model", "created": 0, "owned_by": "fake"} for i in ids]
        self._send_json(200, {"object": "list", "data": data})

    # chat completions

    def _chat(self, body: dict) -> None:
        b = self.fake._next_behaviour()
        kind = b["kind"]
        if kind == "error":
            status = int(b.get("status", 500))
            headers = b.get("headers") or {}
            if b.get("body") is not None:
                body_ = b["body"]
                data = body_ if isinstance(body_, str) else json.dumps(body_)
                return self._send_raw(status, data.encode(), headers,
                                      b.get("content_type") or "application/json")
            message = b.get("message") or f"Fake error {status}"
            return self._send_json(
                status, error_body(status, message, b.get("type"), b.get("code")), headers
            )
        if kind == "redirect":  # {"location": URL, "status": 307}: the same request elsewhere
            return self._send_raw(int(b.get("status", 307)), b"",
                                  {"Location": b["location"]})
        if kind == "hang":
            self._sleep(b.get("seconds", 5))
        if kind == "raw":
            return self._raw(b)
        reply = _Reply(b, body, self.fake._next_id())
        if body.get("stream") and b.get("json_body"):
            # A proxy that answers a streaming request with one JSON completion.
            data = json.dumps(reply.completion()).encode()
            return self._send_raw(200, data, reply_headers(b),
                                  b.get("content_type") or "application/json")
        if body.get("stream"):
            return self._stream(b, reply)
        self._complete(b, reply)

    def _raw(self, b: dict) -> None:
        """Each of `events` as one SSE data line (JSON unless a string), then [DONE]; under
        `content_type` if given (some proxies label an event stream as JSON)."""
        self._start_stream(b.get("content_type") or "text/event-stream; charset=utf-8")
        for event in b.get("events") or []:
            self._send_event(event)
        if b.get("done", True):
            self._send_event("[DONE]")
        self._end_stream()

    def _complete(self, b: dict, reply: _Reply) -> None:
        kind = b["kind"]
        if kind == "stream_error":
            message = b.get("message") or "stream error"
            return self._send_json(500, error_body(500, message))
        if kind == "malformed":
            return self._send_raw(200, b"{not json")
        data = json.dumps(reply.completion(finish=kind != "end_early")).encode()
        if kind in ("cut", "stall"):
            # Promise the whole body, deliver half of it.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if kind == "stall":
                self._sleep(b.get("seconds", 5))
            raise _Cut
        self._send_raw(200, data, reply_headers(b))

    def _stream(self, b: dict, reply: _Reply) -> None:
        kind = b["kind"]
        limit = None if kind in ("reply", "hang") else int(b.get("after_chunks", 3))
        self._start_stream(headers=reply_headers(b))
        # A failure comes after `limit` content chunks, or when the content runs out.
        gate = self.fake._gate(b["gate"]) if b.get("gate") else None
        later = self.fake._gate(b["answer_gate"]) if b.get("answer_gate") else None
        for part, event in reply.events(self._sleep, max_content=limit, gate=gate,
                                        answer_gate=(later, int(b.get("answer_gate_after", 1)))):
            if limit is not None and part == "end":
                break
            self._send_event(event)
        if kind == "cut":
            raise _Cut
        if kind == "stall":
            self._sleep(b.get("seconds", 5))
            raise _Cut
        if kind == "malformed":
            self._send_chunk(b"data: {not json\n\n")
        elif kind == "stream_error":
            message = b.get("message") or "stream error"
            self._send_event({"error": {"message": message, "type": "server_error"}})
        elif limit is None:
            self._send_event("[DONE]")
        self._end_stream()


class _Reply:
    """One scripted reply: its choices' texts/tool calls, as a completion or as SSE chunks.

    Reasoning (`reasoning` text or `reasoning_tokens`) comes before the answer, in the field
    `reasoning_field` names; `content_parts` sends the answer as a list of text parts (with
    `extra_parts` first); `refusal` replaces the answer with a refusal. A request's `n` gives
    that many choices, streamed interleaved (a piece of each in turn); `texts` and
    `finish_reasons` set each choice's own, and `choices` caps how many the server sends
    (one that ignores `n`).
    """

    def __init__(self, b: dict, body: dict, completion_id: str):
        self.id = completion_id
        self.created = int(time.time())
        self.model = b.get("model") or body.get("model") or "fake-model"
        self.chunk_tokens = int(b.get("chunk_tokens") or 1)
        tps = b.get("tokens_per_second")
        self.interval = self.chunk_tokens / tps if tps else 0.0
        self.delay_first = b.get("delay_first_token") or 0.0
        scripted = b.get("tool_calls")
        explicit = any(b.get(k) is not None for k in ("text", "tokens", "refusal"))
        if scripted is None and not explicit and not b.get("no_auto_tools"):
            scripted = auto_tool_calls(body)
            if scripted:
                b = {**b, "tool_calls": scripted}  # no echo beside the calls
        self.tool_calls = [
            {
                "id": c.get("id") or f"call_{completion_id.removeprefix('chatcmpl-')}_{i}",
                "name": c["name"],
                "arguments": c.get("arguments", ""),
            }
            for i, c in enumerate(scripted or [])
        ]
        self.tool_style = b.get("tool_style") or "openai"
        if self.tool_style not in TOOL_STYLES:
            raise ValueError(f"unknown tool_style: {self.tool_style!r}")
        self.finish_reason = b.get("finish_reason") or ("tool_calls" if self.tool_calls else "stop")
        base = reply_text(b, body)
        n = max(1, int(body.get("n") or 1))
        if b.get("choices") is not None:  # a server that answers fewer than `n` asks for
            n = min(n, max(1, int(b["choices"])))
        self.texts = [
            None if base is None else base + (f" (choice {i})" if i else "") for i in range(n)
        ]
        for i, text in enumerate((b.get("texts") or [])[:n]):  # each choice's own text
            self.texts[i] = None if text is None else str(text)
        # Each choice's own finish reason (`finish_reasons`), else `finish_reason` for all.
        reasons = list(b.get("finish_reasons") or [])
        self.finish_reasons = [reasons[i] if i < len(reasons) and reasons[i] else
                               self.finish_reason for i in range(n)]
        self.reasoning = reasoning_text(b)
        self.reasoning_field = b.get("reasoning_field") or "reasoning_content"
        self.content_parts = bool(b.get("content_parts"))
        self.extra_parts = list(b.get("extra_parts") or [])
        self.refusal = None if b.get("refusal") is None else str(b["refusal"])
        opts = body.get("stream_options") or {}
        self.include_usage = bool(opts.get("include_usage")) and not b.get("ignore_stream_options")
        self.prompt_tokens = int(b["prompt_tokens"]) if b.get("prompt_tokens") is not None \
            else prompt_tokens(body)
        self.usage_extra = dict(b.get("usage_extra") or {})

    def _usage(self) -> dict:
        completion = sum(len(split_tokens(t)) for t in self.texts if t)
        completion += len(self.texts) * sum(
            len(split_tokens(c["arguments"])) + 1 for c in self.tool_calls
        )
        if self.refusal:
            completion += len(split_tokens(self.refusal))
        usage = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }
        if self.reasoning:
            thought = len(split_tokens(self.reasoning)) * len(self.texts)
            usage["completion_tokens"] += thought
            usage["total_tokens"] += thought
            usage["completion_tokens_details"] = {"reasoning_tokens": thought}
        return {**usage, **self.usage_extra}

    def _reasoning_delta(self, piece: str) -> dict:
        """`piece` of reasoning as this reply's server would put it in a delta (or message)."""
        field = self.reasoning_field
        if field == "both":  # vLLM while it renamed the field: the same text under both names
            return {"reasoning": piece, "reasoning_content": piece}
        if field == "reasoning_details":  # OpenRouter: the plain field and the detailed list
            return {"reasoning": piece,
                    "reasoning_details": [{"type": "reasoning.text", "text": piece,
                                           "format": "unknown", "index": 0}]}
        if field == "thinking_parts":  # Mistral's reasoning models
            return {"content": [{"type": "thinking",
                                 "thinking": [{"type": "text", "text": piece}]}]}
        return {field: piece}

    def _text_delta(self, piece: str, first: bool) -> dict:
        if not self.content_parts:
            return {"content": piece}
        parts = [*self.extra_parts] if first else []
        return {"content": [*parts, {"type": "text", "text": piece}]}

    def completion(self, finish: bool = True) -> dict:
        """The non-streaming chat.completion object."""
        choices = []
        for i, text in enumerate(self.texts):
            message: dict = {"role": "assistant", "content": text}
            if text is not None and self.content_parts:
                message["content"] = [*self.extra_parts, {"type": "text", "text": text}]
            if self.refusal is not None:
                message["refusal"] = self.refusal
            if self.reasoning:
                thought = self._reasoning_delta(self.reasoning)
                if isinstance(thought.get("content"), list):  # parts: before the answer's
                    answer = message["content"]
                    answer = [{"type": "text", "text": answer}] if isinstance(answer, str) \
                        else answer or []
                    thought["content"] = [*thought["content"], *answer]
                message.update(thought)
            if self.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in self.tool_calls
                ]
            choices.append(
                {
                    "index": i,
                    "message": message,
                    "finish_reason": self.finish_reasons[i] if finish else None,
                    "logprobs": None,
                }
            )
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self._usage(),
        }

    def _chunk(self, index: int, delta: dict, finish_reason: str | None = None) -> dict:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}],
        }

    def events(self, sleep: Any, max_content: int | None = None,
               gate: threading.Event | None = None,
               answer_gate: tuple[threading.Event | None, int] = (None, 0),
               ) -> Iterator[tuple[str, Any]]:
        """Yield (part, chunk), part being "start", "content" or "end"; pace content with `sleep`.

        With `max_content`, stop (without pausing) once that many content chunks are out.
        With `gate`, wait (up to GATE_TIMEOUT_S) between the reasoning and the answer; with
        `answer_gate` (an event, a number of answer rounds), wait again after that many.
        """
        for i in range(len(self.texts)):
            start: dict = {"role": "assistant", "content": ""}
            if self.refusal is not None:
                start = {"role": "assistant", "content": None, "refusal": ""}
            yield "start", self._chunk(i, start)
        thoughts = split_tokens(self.reasoning, self.chunk_tokens) if self.reasoning else []
        rounds: list[list[tuple[int, dict]]] = [
            [(i, self._reasoning_delta(piece)) for i in range(len(self.texts))]
            for piece in thoughts
        ]
        answer_starts = len(rounds)
        if self.refusal is not None:
            rounds += [[(0, {"refusal": piece})]
                       for piece in split_tokens(self.refusal, self.chunk_tokens)]
        pieces = [split_tokens(t, self.chunk_tokens) if t else [] for t in self.texts]
        rounds += [
            [(i, self._text_delta(p[k], k == 0)) for i, p in enumerate(pieces) if k < len(p)]
            for k in range(max((len(p) for p in pieces), default=0))
        ]
        for i in range(len(self.texts)):
            rounds += [[(i, {"tool_calls": [d]})] for d in self._call_deltas()]
        sent = 0
        for k, round_ in enumerate(rounds):
            if sent == max_content:
                return
            if k == answer_starts and gate is not None and thoughts:
                gate.wait(GATE_TIMEOUT_S)
            if answer_gate[0] is not None and k == answer_starts + answer_gate[1]:
                answer_gate[0].wait(GATE_TIMEOUT_S)
            sleep(self.delay_first if k == 0 else self.interval)
            for i, delta in round_:
                if sent == max_content:
                    return
                yield "content", self._chunk(i, delta)
                sent += 1
        for i in range(len(self.texts)):
            yield "end", self._chunk(i, {}, self.finish_reasons[i])
        if self.include_usage:
            yield "end", {**self._chunk(0, {}), "choices": [], "usage": self._usage()}


    def _call_deltas(self) -> list[dict]:
        """The tool calls as `tool_calls` delta entries, one per chunk, in `tool_style`:
        openai (the id, type and whole name first, then the arguments in pieces, call after
        call: OpenAI's documented stream), split_name (the name in two pieces too),
        interleaved (the calls' pieces taking turns), whole (each call in one chunk), no_index
        (whole calls without `index`, as Gemini's compatible API sends them)."""
        style, out = self.tool_style, []
        per_call = []
        for j, call in enumerate(self.tool_calls):
            name = call["name"]
            head = {"index": j, "id": call["id"], "type": "function",
                    "function": {"name": name, "arguments": ""}}
            if style in ("whole", "no_index"):
                whole = {**head, "function": {"name": name, "arguments": call["arguments"]}}
                if style == "no_index":
                    del whole["index"]
                per_call.append([whole])
                continue
            pieces = [head]
            if style == "split_name" and len(name) > 1:
                half = len(name) // 2
                head["function"] = {"name": name[:half], "arguments": ""}
                pieces.append({"index": j, "function": {"name": name[half:]}})
            pieces += [{"index": j, "function": {"arguments": frag}}
                       for frag in _fragments(call["arguments"])]
            per_call.append(pieces)
        if style == "interleaved":
            for k in range(max((len(p) for p in per_call), default=0)):
                out += [p[k] for p in per_call if k < len(p)]
        else:
            out = [piece for pieces in per_call for piece in pieces]
        return out


def _fragments(text: str, parts: int = 3) -> list[str]:
    """Split a string into up to `parts` non-empty pieces."""
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


class FakeAPIControl:
    """Drive a FakeAPI (possibly in another process) through its /_fake/* endpoints."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        root = base_url.rstrip("/")
        self.root = root[: -len("/v1")] if root.endswith("/v1") else root
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(
            self.root + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read() or b"null")

    def script(self, *behaviours: dict) -> None:
        """Queue behaviours."""
        self._call("POST", "/_fake/script", list(behaviours))

    def requests(self) -> list[dict]:
        """Every recorded request to /v1/*."""
        return self._call("GET", "/_fake/requests")

    def chat_requests(self) -> list[dict]:
        """The parsed bodies of every POST /v1/chat/completions."""
        return [
            r["body"]
            for r in self.requests()
            if r["method"] == "POST" and r["path"] == "/v1/chat/completions"
        ]

    def reset(self) -> None:
        """Clear queue, recorded requests and model failure."""
        self._call("POST", "/_fake/reset", {})

    def release(self, gate: str) -> None:
        """Let replies held at `gate` go on to their answer."""
        self._call("POST", "/_fake/release", {"gate": gate})

    def set_models(self, ids: list[str]) -> None:
        """Set the listed model ids."""
        self._call("POST", "/_fake/models", {"ids": list(ids)})

    def fail_models(self, status: int | None) -> None:
        """Make GET /v1/models fail with this status (None = succeed)."""
        self._call("POST", "/_fake/models", {"fail": status})
