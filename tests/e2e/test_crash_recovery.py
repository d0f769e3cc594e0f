"""Crash safety with a real process and a real kill (issue 3, item 5).

A Streamlit server of this test's own streams a slow reply into Chromium; the test SIGKILLs the
server mid-reply, starts another one on the same data dir, and reopens the conversation from
its URL: the question is there, the partial reply is there marked interrupted, and Retry
answers it. Waits are bounded (`expect`, or polling the store), never timing assertions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from nexuschat.conversation import Conversation
from nexuschat.store import SQLITE_FILENAME, Store
from nexuschat.turns import INTERRUPTED
from testbed.app_server import StreamlitServer, health_ok

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000
QUESTION = "count to two thousand, slowly please"
FINAL = "All done: the complete answer after the crash."
TOKENS = 2000
TOKENS_PER_SECOND = 20  # 2,000 tokens take 100 s: the kill always lands mid-reply
SAVE_WAIT_S = 10.0  # bound on waiting for a periodic save to reach the database
OWNER = "local"  # a server bound to 127.0.0.1 is a single-user install

expect.set_options(timeout=TIMEOUT_MS)


def words(text: str) -> list[str]:
    return text.split()


def is_prefix_of_the_reply(tokens: list[str]) -> bool:
    return tokens == [f"w{i}" for i in range(len(tokens))]


def messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage")


def reply_body(message: Locator) -> Locator:
    """The reply text of an assistant bubble (its first markdown block)."""
    return message.get_by_test_id("stMarkdownContainer").first


def conversation_id(page: Page) -> str:
    """The open conversation named in the page's URL (`?c=<id>`)."""
    expect(page).to_have_url(re.compile(r"[?&]c=[0-9a-f]+"))
    return parse_qs(urlsplit(page.url).query)["c"][0]


def wait_for_saved_partial(store: Store, cid: str) -> Conversation:
    """The conversation once the streaming reply's row holds some text (a periodic save)."""
    deadline = time.monotonic() + SAVE_WAIT_S
    while True:
        stored = store.load(OWNER, cid)
        if stored and len(stored.messages) == 2 and stored.messages[1].content.strip():
            return stored
        if time.monotonic() > deadline:
            pytest.fail(f"no partial reply reached the database within {SAVE_WAIT_S} s: "
                        f"{stored!r}")
        time.sleep(0.1)


@pytest.fixture
def servers(fake_api, tmp_path) -> Iterator[list[StreamlitServer]]:
    """Servers this test starts itself (stopped at the end, key checked in their output)."""
    started: list[StreamlitServer] = []
    yield started
    for server in started:
        server.stop()
    leaks = [str(s.log_path) for s in started if s.leaked_key()]
    assert not leaks, f"the API key appears in Streamlit's output: {leaks}"


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts of this test (fresh sessions), closed at the end."""
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def new_page(browser: Browser, contexts: list[BrowserContext]) -> Page:
    context = browser.new_context()
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def test_kill_9_mid_reply_keeps_question_and_partial_reply_with_retry(
    browser: Browser, contexts, servers, fake_api, tmp_path: Path
):
    data_dir = tmp_path / "data"
    first = StreamlitServer(fake_api.base_url, tmp_path, data_dir, name="first")
    servers.append(first)
    first.start()
    fake_api.script({"kind": "reply", "tokens": TOKENS, "tokens_per_second": TOKENS_PER_SECOND})

    page = new_page(browser, contexts)
    page.goto(first.url + "/")
    expect(page.get_by_text("Start a conversation")).to_be_visible()
    box = page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_enabled()
    box.fill(QUESTION)
    box.press("Enter")

    answer = messages(page).nth(1)
    # w40 is paced 2 s after w0 by the fake API: by now the reply has streamed > 1.5 s, and a
    # save (once a second) has happened; the store is then polled for it rather than assumed.
    expect(answer.get_by_text(re.compile(r"\bw40\b"))).to_be_visible()
    cid = conversation_id(page)
    store = Store.open(f"sqlite:///{data_dir / SQLITE_FILENAME}")
    try:
        before_kill = wait_for_saved_partial(store, cid)
        assert first.process.poll() is None, "the server must still be streaming"
        # The pid is the Python process serving the app itself, not a shell or launcher.
        cmdline = Path(f"/proc/{first.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:5] == [b"-m", b"streamlit", b"run", b"streamlit_app.py"], cmdline

        first.kill()  # SIGKILL: no atexit, no finally blocks, no final save
        assert first.process.returncode == -9
        assert not health_ok(first.url)
        assert len(fake_api.chat_requests()) == 1

        # The store, read directly: the question was committed before the request, and the
        # reply row holds what the last periodic save wrote, still marked interrupted.
        stored = store.load(OWNER, cid)
        assert stored is not None
        question, partial = stored.messages
        assert (question.role, question.content) == ("user", QUESTION)
        assert partial.role == "assistant"
        assert partial.meta is not None
        assert (partial.meta.status, partial.meta.error_code) == ("error", INTERRUPTED)
        saved = words(partial.content)
        assert is_prefix_of_the_reply(saved), saved[:20]
        assert 5 <= len(saved) < TOKENS
        assert len(saved) >= len(words(before_kill.messages[1].content))
    finally:
        store.close()

    # A new server process on the same data dir; a new browser session opens the bookmark.
    second = StreamlitServer(fake_api.base_url, tmp_path, data_dir, name="second")
    servers.append(second)
    second.start()
    fake_api.script({"kind": "reply", "text": FINAL})

    page = new_page(browser, contexts)
    page.goto(f"{second.url}/?c={cid}")
    question_bubble, answer = messages(page).nth(0), messages(page).nth(1)
    expect(question_bubble).to_contain_text(QUESTION)
    expect(reply_body(answer)).to_contain_text("w0 w1 w2 w3 w4")
    expect(answer).to_contain_text("interrupted")
    shown = words(reply_body(answer).inner_text())
    assert shown == saved  # exactly what was saved: nothing lost, no cursor, nothing invented
    retry = page.locator(f".st-key-retry-{partial.id}").get_by_role("button")
    expect(retry).to_be_visible()
    expect(retry).to_contain_text("Retry")
    expect(messages(page)).to_have_count(2)

    retry.click()

    expect(reply_body(answer)).to_have_text(FINAL)
    expect(answer).to_contain_text("total tokens")
    expect(answer).not_to_contain_text("was interrupted")
    expect(page.locator(f".st-key-retry-{partial.id}")).to_have_count(0)
    expect(messages(page)).to_have_count(2)
    # The retry sent the question alone: the interrupted reply is shown, never resent.
    assert fake_api.chat_requests()[-1]["messages"] == [{"role": "user", "content": QUESTION}]

    with Store.open(f"sqlite:///{data_dir / SQLITE_FILENAME}") as store:
        final = store.load(OWNER, cid)
    assert final is not None
    question, reply = final.messages
    assert (question.role, question.content) == ("user", QUESTION)
    assert (reply.id, reply.content, reply.status) == (partial.id, FINAL, "complete")
    assert reply.earlier_attempts == (partial.content,)  # the partial text is still kept
