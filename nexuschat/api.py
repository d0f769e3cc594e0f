"""The one client seam: building the client and requests, streaming, and mapping failures."""

from __future__ import annotations

import contextlib
import email.utils
import itertools
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator

import httpx2
import openai
from openai import APIResponse

from nexuschat.config import Settings
from nexuschat.errors import ChatError
from nexuschat.gateway import error_message, is_out_of_balance, text_message
from nexuschat.models import Thinking
from nexuschat.netguard import AddressBlocked, GuardedTransport, blocked_reason
from nexuschat.params import GenerationParams, thinking_request, to_request

__all__ = ["ChatError", "ChatStream", "RefusedStream", "build_body", "list_models",
           "make_client", "map_error", "redact", "sse_data"]

# A JSON reply to a streaming request is read whole; past this it is not a chat completion.
MAX_JSON_REPLY_BYTES = 32 * 1024 * 1024


def make_client(settings: Settings) -> openai.OpenAI:
    """The only place an OpenAI client is built; retries are the user's call (Retry).

    On a hosted deploy every connection goes through the network guard (nexuschat.netguard),
    and settings whose base URL the deploy refuses build no client at all.
    """
    if notice := settings.url_notice:
        raise ChatError(notice.code, dict(notice.params))
    try:
        http_client = None
        if settings.network is not None:
            http_client = openai.DefaultHttpxClient(transport=GuardedTransport(settings.network))
        return openai.OpenAI(
            base_url=settings.base_url,
            # The SDK refuses an empty key; a placeholder lets keyless local servers work.
            api_key=settings.api_key or "no-key",
            max_retries=0,
            timeout=httpx2.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            http_client=http_client,
        )
    except (httpx2.InvalidURL, ValueError):  # "http://0177.0.0.1/v1", "http://[::1/v1", ...
        raise ChatError("error.invalid_url", {"detail": settings.base_url[:200]}) from None


def build_body(model: str, messages: list[dict], params: GenerationParams,
               *, stream: bool = True, thinking: Thinking | None = None,
               tools: dict | None = None) -> dict:
    """The request body: model, messages, only the parameters the user set, streaming options.

    `thinking` is how the model's thinking mode is switched (its catalog entry): the switch
    and budget the user set go as extra body fields (`enable_thinking`, `thinking_budget`),
    which the SDK sends as they are. `tools` are the tool fields of the request
    (`tool_loop.tools_request`: `tools` and `tool_choice`), when any are offered.
    """
    body: dict = {"model": model, "messages": messages, **to_request(params), **(tools or {})}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if extra := thinking_request(params, thinking):
        body["extra_body"] = extra
    return body


class ChatStream:
    """One streamed reply: iterate for chunks as plain dicts (failures raise ChatError);
    close() stops it.

    The request, its status errors and the key go through the SDK; the event stream is decoded
    here into dicts. Building an SDK object per chunk cost about an eighth of the server's GIL
    time with twenty sessions streaming (bench/load.py), and the reducers read dicts anyway.
    A server that answers with one JSON completion instead of an event stream (some proxies
    and older servers do, whatever `stream` says) gives that completion as the only chunk.
    """

    def __init__(self, client: openai.OpenAI, body: dict) -> None:
        self._client = client
        self.body = body
        self._response: APIResponse | None = None
        self._closed = threading.Event()
        self.headers: dict[str, str] = {}  # the response's, once it answered (a balance...)

    def __iter__(self) -> Iterator[dict]:
        try:
            self._response = response = self._open()
            with contextlib.closing(response):
                if self._closed.is_set():
                    return
                http = response.http_response
                self.headers = dict(http.headers)
                pieces, is_json = _sniff_json(http.headers.get("content-type", ""),
                                              http.iter_bytes())
                if is_json:
                    yield self._completion(pieces)
                    return
                for data in sse_data(pieces):
                    yield self._chunk(data)
        except openai.OpenAIError as exc:
            if not self._closed.is_set():
                raise map_error(exc, api_key=self._client.api_key) from None
        except ValueError as exc:  # a chunk that is not JSON, or not a chunk
            raise ChatError("error.malformed", {"detail": type(exc).__name__}) from None
        except httpx2.TimeoutException:
            if not self._closed.is_set():
                raise ChatError("error.read_timeout") from None
        except httpx2.HTTPError as exc:
            if not self._closed.is_set():
                raise ChatError("error.stream_cut", {"detail": type(exc).__name__}) from None

    def _chunk(self, data: bytes) -> dict:
        return decode_chunk(data, self._client.api_key)

    def _completion(self, pieces: Iterable[bytes]) -> dict:
        body = bytearray()
        for piece in pieces:
            body += piece
            if len(body) > MAX_JSON_REPLY_BYTES:
                raise ChatError("error.malformed", {"detail": "too large"})
        return decode_chunk(bytes(body), self._client.api_key)

    def _open(self) -> APIResponse:
        try:
            return self._send(self.body)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            # Some servers refuse stream_options; usage then stays unknown, which we show.
            # Their refusal comes in every error shape (FastAPI's detail list included).
            if "stream_options" not in self.body or \
                    "stream_options" not in _server_message(exc, limit=None):
                raise
            self.body = {k: v for k, v in self.body.items() if k != "stream_options"}
            return self._send(self.body)

    def _send(self, body: dict) -> APIResponse:
        # Entering sends the request and raises the SDK's status errors; closing is ours.
        return self._client.chat.completions.with_streaming_response.create(**body).__enter__()

    def close(self) -> None:
        """Stop reading and drop the connection, so the server stops generating."""
        self._closed.set()
        if self._response is not None:
            # Closing from the UI thread may race the reader thread; either way it ends.
            with contextlib.suppress(Exception):
                self._response.close()


class RefusedStream:
    """A reply that fails at once with `error`, having sent nothing (settings refused)."""

    def __init__(self, error: ChatError) -> None:
        self.error = error

    def __iter__(self) -> Iterator[dict]:
        yield from ()  # a generator, so the error comes on the first read, as a stream's would
        raise self.error

    def close(self) -> None:
        """Nothing to close."""


def decode_chunk(data: bytes, api_key: str = "") -> dict:
    """One event's data as a chunk dict; an error object inside the stream, or anything that
    is not an object, is a ChatError (the server's message redacted)."""
    try:
        chunk = json.loads(data)
    except (ValueError, RecursionError):  # not JSON (RecursionError: nested past the parser)
        raise ChatError("error.malformed", {"detail": "not JSON"}) from None
    if not isinstance(chunk, dict):
        raise ChatError("error.malformed", {"detail": type(chunk).__name__})
    if error := chunk.get("error"):  # an error event inside the stream
        message = error_message(error) or error_message(chunk) or str(error)[:300]
        code = ("error.insufficient_balance" if is_out_of_balance(None, chunk, message)
                else "error.stream_error")
        raise ChatError(code, {"message": redact(message, api_key)})
    return chunk


_SSE_STARTS = (b"d", b"e", b"i", b"r", b":")  # data:, event:, id:, retry:, a comment


def _sniff_json(content_type: str, chunks: Iterable[bytes]) -> tuple[Iterator[bytes], bool]:
    """The body's pieces (none lost), and whether it is one JSON document rather than an event
    stream. The body decides (no event stream starts with `{`, and proxies send either under
    either content type); a JSON content type only for a body that does not start like an
    event stream."""
    it = iter(chunks)
    head = b""
    for piece in it:
        head += piece
        if head.strip():
            break
    pieces = itertools.chain((head,) if head else (), it)
    start = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if start in (b"{", b"["):
        return pieces, True
    media = content_type.split(";", 1)[0].strip().lower()
    return pieces, media.endswith("json") and bool(start) and start not in _SSE_STARTS


_LINE_END = re.compile(rb"\r\n|\r|\n")


def sse_data(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The data of each server-sent event, in order, until `[DONE]`.

    An event's data lines are joined with LF; comments and other fields are skipped.
    """
    data: list[bytes] = []
    for line in _sse_lines(chunks):
        if line:
            name, _, value = line.partition(b":")
            if name == b"data":
                data.append(value.removeprefix(b" "))
        elif data:
            event, data = b"\n".join(data), []
            if event.startswith(b"[DONE]"):
                return
            yield event


def _sse_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of an event stream, then a blank line that ends a last unterminated event.

    Lines end only at CR, LF or CRLF: a text line splitter would also break on U+2028 inside
    a JSON string.
    """
    pending = b""
    for chunk in chunks:
        pending += chunk
        # A CR at the end may be the first half of a CRLF: keep it for the next chunk.
        cut = len(pending) - 1 if pending.endswith(b"\r") else len(pending)
        *lines, rest = _LINE_END.split(pending[:cut])
        pending = rest + pending[cut:]
        yield from lines
    if last := pending.rstrip(b"\r"):
        yield last
    yield b""


def list_models(client: openai.OpenAI) -> list[str]:
    """Model ids from GET /models, sorted; raises ChatError when listing fails."""
    try:
        return sorted({m.id for m in client.models.list()})
    except openai.OpenAIError as exc:
        raise map_error(exc, api_key=client.api_key) from None
    except (httpx2.HTTPError, ValueError) as exc:
        raise ChatError("error.malformed", {"detail": type(exc).__name__}) from None


_STATUS_CODES = {
    401: "error.auth",
    403: "error.permission",
    404: "error.not_found",
    413: "error.too_large",
    400: "error.invalid",
    422: "error.invalid",
    429: "error.rate_limited",
}


def map_error(exc: BaseException, *, api_key: str = "") -> ChatError:
    """Turn an SDK exception into a ChatError with no secret in it."""
    if isinstance(exc, openai.APITimeoutError):
        connect = isinstance(exc.__cause__, httpx2.ConnectTimeout | httpx2.PoolTimeout)
        return ChatError("error.connect_timeout" if connect else "error.read_timeout")
    if isinstance(exc, openai.APIConnectionError):
        if refused := blocked_reason(exc):
            code = "error.address_blocked" if isinstance(refused, AddressBlocked) \
                else "error.redirect_blocked"
            return ChatError(code, {"host": refused.host})
        if isinstance(exc.__cause__, httpx2.ConnectError):
            return ChatError("error.connection", {"host": _host(exc)})
        return ChatError("error.stream_cut", {"detail": type(exc.__cause__).__name__})
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = redact(_server_message(exc), api_key)
        code = _STATUS_CODES.get(status) or ("error.server" if status >= 500 else "error.http")
        if is_out_of_balance(status, exc.body, message):  # no Retry-After wait: top up first
            return ChatError("error.insufficient_balance", {"status": status, "message": message},
                             status)
        retry_after = _retry_after(exc.response.headers) if status == 429 else None
        return ChatError(code, {"status": status, "message": message}, status, retry_after)
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        message = redact(_server_message(exc), api_key)
        code = ("error.insufficient_balance" if is_out_of_balance(None, exc.body, message)
                else "error.stream_error")
        return ChatError(code, {"message": message})
    return ChatError("error.unexpected", {"detail": type(exc).__name__})


def _server_message(exc: openai.APIError, *, limit: int | None = 300) -> str:
    """A short readable message from the error's body, whatever its shape (JSON of any form,
    plain text, a proxy's HTML page); the SDK's own text when the body says nothing."""
    response = getattr(exc, "response", None)
    found = ""
    if response is not None:
        with contextlib.suppress(Exception):  # a body that cannot be read says nothing
            found = text_message(response.text, response.headers.get("content-type", ""))
    if not found:
        found = error_message(exc.body, limit=None)
    found = found or exc.message
    return found if limit is None or len(found) <= limit else found[: limit - 1] + "…"


def _host(exc: openai.APIConnectionError) -> str:
    try:
        return exc.request.url.host or ""
    except (AttributeError, RuntimeError):
        return ""


def _retry_after(headers: httpx2.Headers) -> float | None:
    if value := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else max(0.0, email.utils.mktime_tz(parsed) - time.time())


_KEY_SHAPES = re.compile(r"\b(sk|key|nf)-[A-Za-z0-9_\-*]{6,}")


def redact(text: str, secret: str = "") -> str:
    """Text with the API key, and anything shaped like a key, masked."""
    if secret and secret != "no-key":
        text = text.replace(secret, "***")
    return _KEY_SHAPES.sub(lambda m: m.group(1) + "-***", text)
