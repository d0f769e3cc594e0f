"""A copied address hands over nothing (issue 9, item 2), in a real browser.

One hosted `streamlit run streamlit_app.py` (NEXUSCHAT_MODE=hosted, no login configured): each
browser context is another browser, known only by the signed HttpOnly cookie the app's
middleware sets. Waits are Playwright's auto-waiting `expect`, never sleeps or timings.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from nexuschat.conversation import Conversation, Message, ReplyMeta
from nexuschat.identity import old_link_owner, visitor_owner
from nexuschat.store import SQLITE_FILENAME, Store
from nexuschat.visitor import COOKIE_NAME, MAX_AGE_S
from testbed.app_server import StreamlitServer
from tests.e2e.visitors import (
    TIMEOUT_MS,
    conversation_id,
    listed_conversations,
    messages,
    new_page,
    not_found_text,
    open_app,
    open_chat,
    send,
)

pytestmark = pytest.mark.e2e

expect.set_options(timeout=TIMEOUT_MS)
OLD_TOKEN = "89abcdef01234567" * 3  # a `?u=` as links carried it before the cookie
NO_TOKEN_IN_URL = re.compile(r"[?&]u=")


@pytest.fixture(scope="module")
def hosted(fake_api_server, tmp_path_factory) -> Iterator[StreamlitServer]:
    server = StreamlitServer(fake_api_server.base_url, tmp_path_factory.mktemp("hosted"),
                             name="hosted", env={"NEXUSCHAT_MODE": "hosted"})
    server.start()
    try:
        yield server
    finally:
        server.stop()
        assert not server.leaked_key(), f"the API key appears in {server.log_path}"


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def database(server: StreamlitServer) -> Path:
    return server.data_dir / SQLITE_FILENAME


def visitor_cookie(context: BrowserContext) -> dict:
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
    return cookie


def test_the_visitor_cookie_is_httponly_and_the_url_never_holds_the_token(
        hosted, browser, contexts, fake_api):
    page = new_page(browser, contexts)
    open_chat(page, hosted.url)
    send(page, "remember me by my cookie")
    cid = conversation_id(page)

    cookie = visitor_cookie(page.context)
    token = cookie["value"].split(".")[0]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http on loopback: no __Host- prefix, no Secure
    assert MAX_AGE_S - 3600 < cookie["expires"] - time.time() <= MAX_AGE_S
    assert COOKIE_NAME not in page.evaluate("document.cookie")  # page script cannot read it
    assert token not in page.url and not NO_TOKEN_IN_URL.search(page.url)

    page.reload()  # a reload finds the conversation again, by the cookie alone
    expect(messages(page).nth(0)).to_contain_text("remember me by my cookie")
    expect(messages(page).nth(1)).to_contain_text("Echo: remember me by my cookie")
    assert not NO_TOKEN_IN_URL.search(page.url)
    assert listed_conversations(page, hosted.url) == [cid]

    with Store.open(f"sqlite:///{database(hosted)}") as store:
        assert [s.id for s in store.list(visitor_owner(token))] == [cid]
    stored = b"".join(p.read_bytes() for p in hosted.data_dir.glob(f"{SQLITE_FILENAME}*"))
    assert token.encode() not in stored  # only its digest reaches the database


def test_another_browser_opening_the_exact_url_sees_not_found(hosted, browser, contexts,
                                                              fake_api):
    owner = new_page(browser, contexts)
    open_chat(owner, hosted.url)
    send(owner, "a note only I should read")
    conversation_id(owner)
    copied = owner.url  # what a pasted link or a screenshot of the address bar gives away

    stranger = new_page(browser, contexts)
    open_app(stranger, copied)
    shown = not_found_text(stranger)
    expect(stranger.get_by_text("a note only I should read")).to_have_count(0)
    expect(messages(stranger)).to_have_count(0)
    assert listed_conversations(stranger, hosted.url) == []

    # Word for word what an id that never existed shows: nothing says whether it exists.
    open_app(stranger, f"{hosted.url}/?c={'0' * 32}")
    assert not_found_text(stranger) == shown


def seed_old_link(server: StreamlitServer, question: str) -> str:
    """A conversation as a visitor of an old `?u=` link left it; its id."""
    conversation = Conversation().append(Message("user", question)).append(
        Message("assistant", f"Echo: {question}", meta=ReplyMeta(model="m")))
    with Store.open(f"sqlite:///{database(server)}") as store:
        store.create(old_link_owner(OLD_TOKEN), conversation)
    return conversation.id


def test_an_old_link_works_once_then_leaves_the_address_and_hands_over_nothing(
        hosted, browser, contexts, fake_api):
    cid = seed_old_link(hosted, "written when my token was in the URL")
    old_link = f"{hosted.url}/?u={OLD_TOKEN}&c={cid}"

    page = new_page(browser, contexts)
    open_app(page, old_link)
    expect(messages(page).nth(0)).to_contain_text("written when my token was in the URL")
    expect(page.get_by_test_id("stToast")).to_contain_text("Kept 1 conversation")
    expect(page).not_to_have_url(NO_TOKEN_IN_URL)
    assert conversation_id(page) == cid
    page.reload()  # now this browser's, by its cookie
    expect(messages(page).nth(0)).to_contain_text("written when my token was in the URL")
    token = visitor_cookie(page.context)["value"].split(".")[0]
    with Store.open(f"sqlite:///{database(hosted)}") as store:
        assert store.list(old_link_owner(OLD_TOKEN)) == []
        assert [s.id for s in store.list(visitor_owner(token))] == [cid]

    leaked = new_page(browser, contexts)  # the same old link, pasted somewhere, opened later
    open_app(leaked, old_link)
    not_found_text(leaked)
    expect(leaked.get_by_text("written when my token was in the URL")).to_have_count(0)
    expect(leaked).not_to_have_url(NO_TOKEN_IN_URL)
    assert listed_conversations(leaked, hosted.url) == []
