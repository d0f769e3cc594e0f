"""Many browser sessions chatting at once with one Streamlit server (issue 5, item 5).

The driver shared by tests/e2e/test_concurrent_sessions.py (5 sessions: correctness only) and
bench/load.py (20 sessions: correctness and timings; its websocket clients,
bench/investigations/ws_sessions.py, reuse the fake API, the server and the checks from here). Each
session is a fresh Chromium context (its own Streamlit session and, with NEXUSCHAT_MODE=hosted, its
own owner) driven with Playwright's async API; all of them send their turns at the same time, each
question unique ("session 7 turn 3") and carrying a small image.

The fake API (a `FakeAPI` with its own handler) answers every chat request with the echo of the
question followed by `pad` tokens "w0 w1 ...", paced, so the streams overlap; it stamps when the
request arrived and when each padding token left it. A MutationObserver in each page stamps when
Enter was pressed, when the reply's first token ("Echo:") appeared and when each padding token
first appeared, on the page's wall clock (`performance.timeOrigin + performance.now()`), which is
compared with the server's `time.time()` after taking out the measured clock offset.

Checked, per session: no exception, error box or page error; every turn answered; every bubble in
the page is that session's own question or the echo of it (nothing of any other session); every
request the fake API saw carries only that session's history, in order, one image per question;
and the Conversations page lists that session's conversation and no other.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from nexuschat.machine import free_port
from testbed.app_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    STARTUP_TIMEOUT_S,
    StreamlitServer,
    app_env,
    health_ok,
)
from testbed.fake_api.server import FakeAPI, _Handler, _Reply, image_count, message_text

QUESTION = "session {session} turn {turn}"
_QUESTION_RE = re.compile(r"^session (\d+) turn (\d+)$")
_SESSION_RE = re.compile(r"\bsession (\d+) turn\b")
_PAD_RE = re.compile(r"w(\d+)\s*")
CHAT_PATH = "/v1/chat/completions"
VIEWPORT = {"width": 1280, "height": 900}  # wide enough for the sidebar (page navigation)
CHAT_MESSAGE = '[data-testid="stChatMessage"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ERROR_BOXES = '[data-testid="stException"], [data-testid="stAlert"]'
REPLY_DONE_TEXT = "total tokens"  # the reply's footer, drawn once the turn is stored

# Installed once per page. `begin(i)` arms it for the i-th chat bubble (the reply to come); on
# every DOM change it notes when "Echo:" first shows in that bubble and, whenever the highest
# padding token at the end of one of its markdown blocks grows, that index and the time.
OBSERVER_JS = r"""
() => {
  const now = () => performance.timeOrigin + performance.now();
  const rec = {index: -1, enter: null, first: null, last: -1, obs: []};
  const tail = /w(\d+)\s*[\u258c]?\s*$/;
  const scan = () => {
    if (rec.index < 0) return;
    const msg = document.querySelectorAll('[data-testid="stChatMessage"]')[rec.index];
    if (!msg) return;
    let best = -1, echo = false;
    for (const md of msg.querySelectorAll('[data-testid="stMarkdownContainer"]')) {
      const text = md.textContent;
      if (!echo && text.startsWith('Echo:')) echo = true;
      const m = tail.exec(text.slice(-32));
      if (m && +m[1] > best) best = +m[1];
    }
    if (echo && rec.first === null) rec.first = now();
    if (best > rec.last) {
      rec.last = best;
      rec.obs.push([best, now()]);
    }
  };
  new MutationObserver(scan).observe(document.body,
    {subtree: true, childList: true, characterData: true});
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && rec.index >= 0 && rec.enter === null) rec.enter = now();
  }, true);
  window.__load = {
    begin(index) { Object.assign(rec, {index, enter: null, first: null, last: -1, obs: []}); },
    take() { return JSON.parse(JSON.stringify(rec)); },
  };
}
"""


def question(session: int, turn: int) -> str:
    return QUESTION.format(session=session, turn=turn)


def padding(pad: int) -> str:
    return " ".join(f"w{i}" for i in range(pad))


def expected_reply(text: str, pad: int) -> str:
    """What the load fake answers to a question carrying one image."""
    return f"Echo: {text} [images: 1] {padding(pad)}"


# ---------------------------------------------------------------------------------------------
# the fake API


@dataclass
class ServedTurn:
    """One chat request as the fake served it (times from `time.time()`)."""

    question: str
    received_at: float
    first_sent_at: float | None = None
    sent: dict[int, float] = field(default_factory=dict)  # padding token index -> flushed at


class _LoadHandler(_Handler):
    """Every chat request: the echo of its last question plus `pad` tokens, paced, stamped."""

    def _chat(self, body: dict) -> None:
        fake: LoadFakeAPI = self.fake  # type: ignore[assignment]
        users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
        last = users[-1] if users else {}
        self._served = ServedTurn(message_text(last), time.time())
        fake.record_turn(self._served)
        text = f"Echo: {message_text(last)}"
        if count := image_count(last):
            text += f" [images: {count}]"
        behaviour = {"kind": "reply", "text": f"{text} {padding(fake.pad)}",
                     "tokens_per_second": fake.tokens_per_second}
        reply = _Reply(behaviour, body, fake._next_id())
        if body.get("stream"):
            return self._stream(behaviour, reply)
        self._complete(behaviour, reply)

    def _send_event(self, obj) -> None:
        super()._send_event(obj)
        if not isinstance(obj, dict):
            return
        for choice in obj.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                now = time.time()
                if self._served.first_sent_at is None:
                    self._served.first_sent_at = now
                if match := _PAD_RE.fullmatch(content):
                    self._served.sent[int(match[1])] = now


class LoadFakeAPI(FakeAPI):
    """The fake API answering every question with its echo plus `pad` paced tokens."""

    def __init__(self, pad: int = 200, tokens_per_second: float = 100.0):
        super().__init__()
        self.pad = pad
        self.tokens_per_second = tokens_per_second
        self._served: list[ServedTurn] = []

    def start(self, port: int = 0) -> LoadFakeAPI:
        super().start(port)
        self._server.RequestHandlerClass = _LoadHandler  # read per connection: enough
        return self

    def record_turn(self, turn: ServedTurn) -> None:
        with self._lock:
            self._served.append(turn)

    def served(self) -> list[ServedTurn]:
        with self._lock:
            return list(self._served)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._served.clear()


# ---------------------------------------------------------------------------------------------
# the app


class HostedStreamlitServer(StreamlitServer):
    """`streamlit run` as testbed.app_server starts it, plus NEXUSCHAT_MODE=hosted, so that every
    browser session is its own owner (a loopback server would otherwise be one "local" user).

    `options` are more Streamlit config options for the command line ({"runner.postScriptGC":
    "false"} runs `--runner.postScriptGC false`), for benchmarks comparing settings.
    """

    def __init__(self, *args, options: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.options = dict(options or {})

    def command(self) -> list[str]:
        extra = [arg for name, value in self.options.items() for arg in (f"--{name}", value)]
        return super().command() + extra

    def start(self) -> HostedStreamlitServer:
        self.port = free_port()
        command = self.command()
        env = app_env(self.api_url, self.data_dir) | {"NEXUSCHAT_MODE": "hosted"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not health_ok(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Streamlit did not start: {' '.join(command)}\n{self.log()}")
            time.sleep(0.2)
        return self


def make_images(directory: Path, sessions: list[int]) -> dict[int, Path]:
    """A small PNG per session (its own colour), to attach to every question."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    images = {}
    for session in sessions:
        path = directory / f"session-{session}.png"
        colour = ((session * 47) % 256, (session * 91) % 256, (session * 13 + 90) % 256)
        Image.new("RGB", (320, 240), colour).save(path, "PNG")
        images[session] = path
    return images


# ---------------------------------------------------------------------------------------------
# one session


@dataclass
class TurnTiming:
    """One turn as the page saw it (server clock, s), beside what the fake served."""

    session: int
    turn: int
    enter_at: float | None
    first_at: float | None  # "Echo:" first in the page
    seen: list[tuple[int, float]]  # (highest padding index visible, since when)


@dataclass
class SessionResult:
    """What one browser session did and what went wrong in it."""

    session: int
    turns_done: int = 0
    timings: list[TurnTiming] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    crosstalk: list[str] = field(default_factory=list)
    conversation_id: str | None = None
    listed: list[str] = field(default_factory=list)  # ids on its Conversations page
    skew_s: float = 0.0

    def failed(self, exc: BaseException) -> None:
        """Record what stopped this session (one session's failure must not hide others)."""
        detail = " ".join(str(exc).split())[:300]
        self.errors.append(f"session {self.session} after {self.turns_done} turns: "
                           f"{type(exc).__name__}: {detail}")


@dataclass(frozen=True)
class LoadPlan:
    """How many sessions, turns and padding tokens, and how long any one wait may take."""

    sessions: list[int]
    turns: int
    pad: int
    timeout_s: float = 60.0


async def _clock_skew(page, tries: int = 5) -> float:
    """The page's `performance.timeOrigin + now()` minus `time.time()`, in s (least RTT)."""
    best = (float("inf"), 0.0)
    for _ in range(tries):
        before = time.time()
        page_now = await page.evaluate("performance.timeOrigin + performance.now()") / 1000
        after = time.time()
        best = min(best, (after - before, page_now - (before + after) / 2))
    return best[1]


async def _open_chat(page, url: str, timeout_ms: float) -> None:
    from playwright.async_api import expect

    await page.goto(url + "/", wait_until="domcontentloaded")
    await expect(page.get_by_text("Start a conversation")).to_be_visible(timeout=timeout_ms)
    await expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled(timeout=timeout_ms)
    await page.wait_for_selector(IDLE, timeout=timeout_ms)


async def _send(page, text: str, image: Path, timeout_ms: float) -> None:
    """Type, attach through the chat input's own file input, and press Enter."""
    from playwright.async_api import expect

    chat = page.get_by_test_id("stChatInput")
    box = chat.get_by_test_id("stChatInputTextArea")
    await box.fill(text)
    await chat.locator("input[type=file]").set_input_files(image)
    await expect(chat.get_by_text(image.name)).to_be_visible(timeout=timeout_ms)
    # The send button is enabled only once the attachment has finished uploading.
    await expect(chat.get_by_test_id("stChatInputSubmitButton")).to_be_enabled(timeout=timeout_ms)
    await box.press("Enter")


async def _wait_for_reply(page, turn: int, timeout_ms: float) -> None:
    """Until the turn's reply is stored and drawn with its footer and the script is idle, or
    until an error shows (the caller looks for it)."""
    from playwright.async_api import expect

    messages = page.locator(CHAT_MESSAGE)
    done = messages.nth(2 * turn + 1).filter(has_text=REPLY_DONE_TEXT)
    await expect(done.or_(page.locator(ERROR_BOXES)).first).to_be_visible(timeout=timeout_ms)
    if not await page.locator(ERROR_BOXES).count():
        await expect(messages).to_have_count(2 * turn + 2, timeout=timeout_ms)
        await page.wait_for_selector(IDLE, timeout=timeout_ms)


async def _error_boxes(page) -> list[str]:
    return [" ".join(text.split())[:200]
            for text in await page.locator(ERROR_BOXES).all_inner_texts()]


async def _check_page(page, result: SessionResult, plan: LoadPlan) -> None:
    """Every bubble is this session's own question or the echo of it; nobody else's text."""
    session = result.session
    bodies = []
    for message in await page.locator(CHAT_MESSAGE).all():
        body = message.get_by_test_id("stMarkdownContainer").first
        bodies.append(" ".join((await body.inner_text()).split()))
    expected = []
    for turn in range(result.turns_done):
        expected += [question(session, turn), expected_reply(question(session, turn), plan.pad)]
    if bodies != expected:
        result.crosstalk.append(f"session {session}: page shows {_diff(bodies, expected)}")
    others = {int(n) for n in _SESSION_RE.findall(await page.inner_text("body"))} - {session}
    if others:
        result.crosstalk.append(f"session {session}: page mentions sessions {sorted(others)}")


def _diff(got: list[str], want: list[str]) -> str:
    if len(got) != len(want):
        return f"{len(got)} bubbles, expected {len(want)}"
    index = next(i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w)
    return f"bubble {index}: {got[index][:80]!r}, expected {want[index][:80]!r}"


async def _check_conversations_page(page, result: SessionResult, timeout_ms: float) -> None:
    """The Conversations page lists this session's conversation, and only that one."""
    from playwright.async_api import expect

    match = re.search(r"[?&]c=([0-9a-f]+)", page.url)
    result.conversation_id = match[1] if match else None
    if result.conversation_id is None:
        result.errors.append(f"session {result.session}: no ?c= in the chat page's URL")
        return
    nav = page.get_by_test_id("stSidebarNav")
    await nav.get_by_role("link", name="Conversations").click()
    await expect(page.get_by_role("heading", name="Conversations")).to_be_visible(
        timeout=timeout_ms)
    own = page.locator(f".st-key-open-{result.conversation_id}")
    await expect(own).to_be_visible(timeout=timeout_ms)
    await page.wait_for_selector(IDLE, timeout=timeout_ms)
    classes = await page.locator('[class*="st-key-open-"]').evaluate_all(
        "els => els.map(e => e.className)")
    result.listed = [m[1] for c in classes if (m := re.search(r"st-key-open-([0-9a-f]+)", c))]
    title = " ".join((await own.inner_text()).split())
    if result.listed != [result.conversation_id]:
        result.crosstalk.append(
            f"session {result.session}: Conversations lists {len(result.listed)} "
            f"conversations: {result.listed}")
    if title != question(result.session, 0):
        result.crosstalk.append(f"session {result.session}: its conversation is titled {title!r}")


async def run_session(browser, url: str, session: int, image: Path, plan: LoadPlan,
                      start: Callable[[bool], Awaitable[None]]) -> SessionResult:
    """Open the chat, wait for `start()` (every session ready), then chat turn after turn."""
    result = SessionResult(session)
    timeout_ms = plan.timeout_s * 1000
    context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
    page_errors: list[str] = []
    try:
        page = await context.new_page()
        page.set_default_timeout(timeout_ms)
        page.on("pageerror", lambda exc: page_errors.append(str(exc)[:200]))
        ready = False
        try:
            await _open_chat(page, url, timeout_ms)
            await page.evaluate(OBSERVER_JS)
            result.skew_s = await _clock_skew(page)
            ready = True
        finally:
            await start(ready)
        for turn in range(plan.turns):
            await page.evaluate("i => window.__load.begin(i)", 2 * turn + 1)
            await _send(page, question(session, turn), image, timeout_ms)
            await _wait_for_reply(page, turn, timeout_ms)
            if boxes := await _error_boxes(page):
                result.errors.append(f"session {session} turn {turn}: {boxes}")
                return result
            rec = await page.evaluate("window.__load.take()")
            result.turns_done += 1
            result.timings.append(TurnTiming(
                session, turn,
                None if rec["enter"] is None else rec["enter"] / 1000 - result.skew_s,
                None if rec["first"] is None else rec["first"] / 1000 - result.skew_s,
                [(i, t / 1000 - result.skew_s) for i, t in rec["obs"]],
            ))
        await _check_page(page, result, plan)
        await _check_conversations_page(page, result, timeout_ms)
    except Exception as exc:  # noqa: BLE001 - recorded: one session's failure must not hide others
        result.failed(exc)
    finally:
        result.errors += [f"session {session}: page error {e}" for e in page_errors]
        with contextlib.suppress(Exception):
            await context.close()
    return result


# ---------------------------------------------------------------------------------------------
# all sessions


def start_gate(count: int) -> Callable[[bool], Awaitable[None]]:
    """Each session reports once (ready or not); all are released together, when all have."""
    arrived = 0
    released = asyncio.Event()

    async def start(ready: bool) -> None:
        nonlocal arrived
        arrived += 1
        if arrived == count:
            released.set()
        if ready:
            await released.wait()

    return start


async def _drive(url: str, plan: LoadPlan, images: dict[int, Path]) -> list[SessionResult]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=CHROMIUM_ARGS)
        try:
            start = start_gate(len(plan.sessions))
            runs = [run_session(browser, url, s, images[s], plan, start) for s in plan.sessions]
            # Bounded as a whole too: every wait inside is bounded, this is the backstop.
            total_s = plan.timeout_s * (plan.turns + 3)
            return await asyncio.wait_for(asyncio.gather(*runs), total_s)
        finally:
            await browser.close()


def drive(url: str, plan: LoadPlan, images: dict[int, Path]) -> list[SessionResult]:
    """Run every session of `plan` at once against the app at `url`; one result per session.

    On a thread of its own, with its own event loop: pytest-playwright's sync API may already
    hold this thread's loop.
    """
    outcome: dict[str, object] = {}

    def main() -> None:
        try:
            outcome["results"] = asyncio.run(_drive(url, plan, images))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=main, name="load-driver", daemon=True)
    thread.start()
    thread.join(plan.timeout_s * (plan.turns + 5))
    if thread.is_alive():
        raise TimeoutError("the load driver did not finish")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["results"]  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# what the fake API saw


def check_requests(requests: list[dict], plan: LoadPlan) -> tuple[list[str], list[str]]:
    """(cross-talk, gaps) in what the API received: every chat request must carry one session's
    own history only, in order, an image per question; every turn of every session must have
    been asked exactly once."""
    crosstalk, gaps = [], []
    asked: Counter[tuple[int, int]] = Counter()
    for request in requests:
        if request["method"] != "POST" or request["path"] != CHAT_PATH:
            continue
        messages = (request.get("body") or {}).get("messages") or []
        users = [m for m in messages if m.get("role") == "user"]
        replies = [m for m in messages if m.get("role") == "assistant"]
        match = _QUESTION_RE.match(message_text(users[-1])) if users else None
        if match is None:
            crosstalk.append(f"a request whose last question is no session's: {messages!r:.200}")
            continue
        session, turn = int(match[1]), int(match[2])
        asked[session, turn] += 1
        want_users = [question(session, t) for t in range(turn + 1)]
        want_replies = [expected_reply(q, plan.pad) for q in want_users[:-1]]
        got_users = [message_text(m) for m in users]
        got_replies = [message_text(m) for m in replies]
        roles = [m.get("role") for m in messages if m.get("role") != "system"]
        if got_users != want_users:
            crosstalk.append(f"session {session} turn {turn}: request's questions {got_users}")
        elif got_replies != want_replies:
            crosstalk.append(f"session {session} turn {turn}: request's replies differ: "
                             f"{[r[:40] for r in got_replies]}")
        elif roles != ["user", "assistant"] * turn + ["user"]:
            crosstalk.append(f"session {session} turn {turn}: roles {roles}")
        if [image_count(m) for m in users] != [1] * len(users):
            crosstalk.append(f"session {session} turn {turn}: images per question "
                             f"{[image_count(m) for m in users]}")
    for (session, turn), count in sorted(asked.items()):
        if count != 1:
            gaps.append(f"session {session} turn {turn} was requested {count} times")
    for session, turn in sorted(expected_turns(plan) - set(asked)):
        gaps.append(f"session {session} turn {turn} never reached the API")
    return crosstalk, gaps


def expected_turns(plan: LoadPlan) -> set[tuple[int, int]]:
    return {(s, t) for s in plan.sessions for t in range(plan.turns)}
