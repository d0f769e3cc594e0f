"""Browser-less Streamlit sessions for bench/load.py: clients speaking Streamlit's own protocol.

Each client does what the browser does for a chat turn, over the same wire: a websocket to
`/_stcore/stream` (XSRF cookie and token as the frontend sends them), a `rerun_script` BackMsg
to load the page, the image uploaded through `file_urls_request` and an HTTP PUT to the
returned URL, then a `rerun_script` carrying the chat input's value (text plus the uploaded
file). It parses every ForwardMsg (protobuf) but renders nothing: "visible" here means the
delta carrying the text arrived at the client, which is what a browser on the user's own
machine would then paint. The same checks as the browser driver (testbed/sessions.py)
run on what each client received: its own questions and echoes only, no error or exception
element, and a Conversations page listing its own conversation and no other.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from testbed.sessions import (
    REPLY_DONE_TEXT,
    LoadPlan,
    SessionResult,
    TurnTiming,
    expected_reply,
    question,
    start_gate,
)

_SESSION_RE = re.compile(r"\bsession (\d+) turn\b")
_QUESTION_RE = re.compile(r"^session \d+ turn \d+$")
_TAIL_RE = re.compile(r"w(\d+)\s*[\u258c]?\s*$")
_OPEN_RE = re.compile(r"-open-([0-9a-f]+)$")
MAIN = 0  # delta_path root of the main area (1 is the sidebar)


class StreamlitClient:
    """One Streamlit session over a websocket, as the browser drives it."""

    def __init__(self, url: str):
        self.url = url
        self.session_id = ""
        self.pages: dict[str, str] = {}  # page name -> page_script_hash
        self.page_hash = ""
        self.query_string = ""
        self.chat_input_id = ""
        self.chat_input_fragment = ""  # the fragment that drew the chat input, if any
        self.elements: dict[tuple[int, ...], tuple[str, str, str]] = {}  # path -> kind, id, text
        self.finished_runs = 0
        self.last_run: dict[tuple[int, ...], tuple[str, str, str]] = {}
        self.on_markdown: Callable[[str, float], None] | None = None
        self._changed = asyncio.Condition()
        self._file_urls: dict[str, object] = {}
        self._ws = None
        self._http = None
        self._reader: asyncio.Task | None = None
        self.closed_reason: str | None = None

    async def connect(self) -> None:
        import httpx2
        from websockets.asyncio.client import connect

        self._http = httpx2.AsyncClient(base_url=self.url, timeout=60)
        await self._http.get("/_stcore/health")  # sets the XSRF cookie, as the page load does
        xsrf = self._http.cookies.get("_streamlit_xsrf") or ""
        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        # Every cookie, as a browser sends them: the visitor's, and behind a proxy its
        # stickiness cookie, so the websocket reaches the replica the upload PUT will.
        cookies = "; ".join(f"{name}={value}" for name, value in self._http.cookies.items())
        self._ws = await connect(ws_url, subprotocols=["streamlit", xsrf], origin=self.url,
                                 additional_headers={"Cookie": cookies},
                                 max_size=None, open_timeout=60)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._http is not None:
            await self._http.aclose()

    # receiving

    async def _read(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for data in self._ws:
                arrived = time.time()
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg, arrived)
                async with self._changed:
                    self._changed.notify_all()
        except Exception as exc:  # noqa: BLE001 - reported by the waits
            self.closed_reason = f"{type(exc).__name__}: {exc}"
        else:
            self.closed_reason = "the server closed the websocket"
        async with self._changed:
            self._changed.notify_all()

    def _handle(self, msg, arrived: float) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":  # every script run starts with one
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            self.page_hash = msg.new_session.page_script_hash
            self.elements = {}
        elif kind == "navigation":
            self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "file_urls_response":
            self._file_urls[msg.file_urls_response.response_id] = msg.file_urls_response
        elif kind == "script_finished":
            self.finished_runs += 1
            self.last_run = dict(self.elements)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            what = element.WhichOneof("type")
            body = getattr(element, what)
            text = (body.body if what in ("markdown", "alert") else
                    body.message if what == "exception" else
                    body.label if what == "button" else "")
            ident = getattr(body, "id", "") if what in ("button", "chat_input") else ""
            path = tuple(msg.metadata.delta_path)
            self.elements[path] = (what, ident, text)
            if what == "chat_input":
                self.chat_input_id = body.id
                self.chat_input_fragment = msg.delta.fragment_id
            if what == "markdown" and self.on_markdown is not None:
                self.on_markdown(text, arrived)

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Until `predicate()` holds (checked on every message); TimeoutError after `timeout_s`."""
        async def wait() -> None:
            async with self._changed:
                while not predicate():
                    if self.closed_reason is not None:
                        raise ConnectionError(self.closed_reason)
                    await self._changed.wait()

        await asyncio.wait_for(wait(), timeout_s)

    # sending

    async def _send(self, back) -> None:
        await self._ws.send(back.SerializeToString())

    async def rerun(self, page: str = "", widgets: list | None = None,
                    fragment_id: str = "") -> int:
        """Ask for a run (of `page`'s script hash; "" = the current one); the run count before."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        runs = self.finished_runs
        back = BackMsg()
        back.rerun_script.query_string = self.query_string
        back.rerun_script.page_script_hash = page or self.page_hash
        if fragment_id:  # as the browser does for a widget a fragment drew: rerun just that
            back.rerun_script.fragment_id = fragment_id
        for widget in widgets or ():
            back.rerun_script.widget_states.widgets.append(widget)
        await self._send(back)
        return runs

    async def upload(self, path: Path, timeout_s: float):
        """Upload a file as the chat input does; its UploadedFileInfo."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.Common_pb2 import UploadedFileInfo

        request_id = uuid.uuid4().hex
        back = BackMsg()
        back.file_urls_request.request_id = request_id
        back.file_urls_request.file_names.append(path.name)
        back.file_urls_request.session_id = self.session_id
        await self._send(back)
        await self.wait_for(lambda: request_id in self._file_urls, timeout_s)
        urls = self._file_urls.pop(request_id).file_urls[0]
        data = path.read_bytes()
        response = await self._http.put(
            urls.upload_url, files={"file": (path.name, data, "image/png")},
            headers={"X-Xsrftoken": self._http.cookies.get("_streamlit_xsrf") or ""})
        response.raise_for_status()
        info = UploadedFileInfo(name=path.name, size=len(data), file_id=urls.file_id)
        info.file_urls.CopyFrom(urls)
        return info

    def chat_input_state(self, text: str, files: list):
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=self.chat_input_id)
        state.chat_input_value.data = text
        for info in files:
            state.chat_input_value.file_uploader_state.uploaded_file_info.append(info)
        return state


def _problems(run: dict) -> list[str]:
    return [f"{kind}: {' '.join(text.split())[:200]}" for kind, _, text in run.values()
            if kind in ("exception", "alert")]


def _footers(run: dict) -> int:
    return sum(1 for kind, _, text in run.values()
               if kind == "markdown" and REPLY_DONE_TEXT in text)


async def run_ws_session(url: str, session: int, image: Path, plan: LoadPlan,
                         start: Callable[[bool], Awaitable[None]]) -> SessionResult:
    """The websocket twin of testbed.sessions.run_session: same turns, same checks."""
    result = SessionResult(session)
    client = StreamlitClient(url)
    timeout = plan.timeout_s
    record: dict = {}

    def on_markdown(text: str, arrived: float) -> None:
        if not record:
            return
        if not text.startswith(record["echo"]):
            # The reply's first token(s) ("Echo:", as the pages time it): a beginning of this
            # turn's echo; earlier replies in the history never are.
            partial = text.removesuffix("\u258c").strip()
            if record["first"] is None and partial and record["echo"].startswith(partial):
                record["first"] = arrived
            return
        if record["first"] is None:
            record["first"] = arrived
        tail = _TAIL_RE.search(text[-32:])
        if tail and int(tail[1]) > record["last"]:
            record["last"] = int(tail[1])
            record["seen"].append((record["last"], arrived))

    client.on_markdown = on_markdown
    try:
        ready = False
        try:
            await client.connect()
            runs = await client.rerun()
            await client.wait_for(lambda: client.finished_runs > runs and client.chat_input_id,
                                  timeout)
            ready = True
        finally:
            await start(ready)
        for turn in range(plan.turns):
            text = question(session, turn)
            info = await client.upload(image, timeout)
            record.clear()
            record.update(echo=f"Echo: {text} ", first=None, last=-1, seen=[])
            enter = time.time()
            await client.rerun(widgets=[client.chat_input_state(text, [info])],
                               fragment_id=client.chat_input_fragment)
            await client.wait_for(lambda t=turn: (_footers(client.last_run) >= t + 1
                                                  or bool(_problems(client.last_run))),
                                  timeout)
            if problems := _problems(client.last_run):
                result.errors.append(f"session {session} turn {turn}: {problems}")
                return result
            result.turns_done += 1
            result.timings.append(TurnTiming(session, turn, enter, record["first"],
                                             list(record["seen"])))
        record.clear()
        _check_chat(client.last_run, result, plan)
        await _check_conversations(client, result, timeout)
    except Exception as exc:  # noqa: BLE001 - recorded: one session's failure must not hide others
        result.failed(exc)
    finally:
        await client.close()
    return result


def _check_chat(run: dict, result: SessionResult, plan: LoadPlan) -> None:
    """The last chat run shows this session's questions and echoes, in order, and nobody else's."""
    session = result.session
    texts = [" ".join(text.split()) for _, (kind, _, text) in sorted(run.items())
             if kind == "markdown"]
    shown = [t for t in texts if _QUESTION_RE.match(t) or t.startswith("Echo:")]
    expected = []
    for turn in range(result.turns_done):
        expected += [question(session, turn), expected_reply(question(session, turn), plan.pad)]
    if shown != expected:
        result.crosstalk.append(f"session {session}: received {len(shown)} bubbles "
                                f"{[s[:40] for s in shown][:6]}, expected {len(expected)}")
    others = {int(n) for t in texts for n in _SESSION_RE.findall(t)} - {session}
    if others:
        result.crosstalk.append(f"session {session}: received text of sessions {sorted(others)}")


async def _check_conversations(client: StreamlitClient, result: SessionResult,
                               timeout: float) -> None:
    """The Conversations page lists this session's conversation, and only that one."""
    found = re.search(r"(?:^|&)c=([0-9a-f]+)", client.query_string)
    result.conversation_id = found[1] if found else None
    page = client.pages.get("Conversations")
    if result.conversation_id is None or page is None:
        result.errors.append(f"session {result.session}: no conversation id or no "
                             f"Conversations page ({client.query_string!r}, {list(client.pages)})")
        return
    runs = await client.rerun(page=page)
    await client.wait_for(lambda: client.finished_runs > runs and client.page_hash == page,
                          timeout)
    buttons = [(m[1], label) for kind, ident, label in client.last_run.values()
               if kind == "button" and (m := _OPEN_RE.search(ident))]
    result.listed = [cid for cid, _ in buttons]
    if result.listed != [result.conversation_id]:
        result.crosstalk.append(f"session {result.session}: Conversations lists "
                                f"{len(result.listed)} conversations: {result.listed}")
    elif buttons[0][1] != question(result.session, 0):
        result.crosstalk.append(f"session {result.session}: its conversation is titled "
                                f"{buttons[0][1]!r}")


LOOP_LAG_MS: list[float] = []  # the clients' own event loop: how late a 10 ms timer fired


async def _watch_loop(lags: list[float], period: float = 0.01) -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(period)
        lags.append((time.perf_counter() - started - period) * 1000)


async def _drive(url: str, plan: LoadPlan, images: dict[int, Path]) -> list[SessionResult]:
    start = start_gate(len(plan.sessions))
    runs = [run_ws_session(url, s, images[s], plan, start) for s in plan.sessions]
    LOOP_LAG_MS.clear()
    watcher = asyncio.create_task(_watch_loop(LOOP_LAG_MS))
    try:
        return await asyncio.wait_for(asyncio.gather(*runs), plan.timeout_s * (plan.turns + 3))
    finally:
        watcher.cancel()


def drive_ws(url: str, plan: LoadPlan, images: dict[int, Path]) -> list[SessionResult]:
    """Run every session of `plan` at once as websocket clients; one result per session.

    `LOOP_LAG_MS` then holds how late the clients' event loop ran (their own measuring error).
    """
    return asyncio.run(_drive(url, plan, images))
