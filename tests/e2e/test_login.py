"""Login end to end (issue 9, item 3): Streamlit's st.login / st.logout against a real OpenID
Connect provider on loopback (tests/e2e/oidc.py), in real Chromium.

Two hosted servers of this module's own: one offering sign-in, one requiring it
(NEXUSCHAT_REQUIRE_LOGIN=true). Each browser context is another browser.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from testbed.app_server import StreamlitServer
from tests.e2e.oidc import ALICE, BOB, OidcProvider, OidcUser
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


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> Iterator[OidcProvider]:
    oidc = OidcProvider(tmp_path_factory.mktemp("oidc")).start()
    try:
        yield oidc
    finally:
        oidc.stop()


def _server(fake_api_server, tmp_path_factory, provider, name: str, **env: str):
    server = StreamlitServer(fake_api_server.base_url, tmp_path_factory.mktemp(name), name=name,
                             env={"NEXUSCHAT_MODE": "hosted", **env},
                             secrets=provider.auth_secrets(secrets.token_urlsafe(32)))
    return server.start()


@pytest.fixture(scope="module")
def login_app(fake_api_server, tmp_path_factory, provider) -> Iterator[StreamlitServer]:
    server = _server(fake_api_server, tmp_path_factory, provider, "login")
    try:
        yield server
    finally:
        server.stop()
        assert not server.leaked_key(), f"the API key appears in {server.log_path}"


@pytest.fixture(scope="module")
def required_app(fake_api_server, tmp_path_factory, provider) -> Iterator[StreamlitServer]:
    server = _server(fake_api_server, tmp_path_factory, provider, "required",
                     NEXUSCHAT_REQUIRE_LOGIN="true")
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


def sign_in(page: Page, app: StreamlitServer, provider: OidcProvider, user: OidcUser,
            button: str = "sign-in") -> None:
    """Click Sign in, pick `user` on the provider's page, and wait until the app greets them."""
    page.locator(f".st-key-{button}").get_by_role("button").click()
    page.wait_for_url(re.compile(rf"^{re.escape(provider.url)}/oauth2/authorize"))
    page.get_by_role("button", name=user.sub, exact=True).click()
    page.wait_for_url(re.compile(rf"^{re.escape(app.url)}/"))
    expect(page.get_by_test_id("stSidebar")).to_contain_text(f"Signed in as {user.name}")


def sign_out(page: Page, app: StreamlitServer, provider: OidcProvider) -> None:
    """Click Sign out, confirm on the provider's end-session page, and wait to be back."""
    page.locator(".st-key-sign-out").get_by_role("button").click()
    page.wait_for_url(re.compile(rf"^{re.escape(provider.url)}/oauth2/end_session"))
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(re.compile(rf"^{re.escape(app.url)}/"))
    expect(page.locator(".st-key-sign-in")).to_be_visible()


def test_two_users_cannot_see_each_others_conversations(login_app, provider, browser, contexts,
                                                        fake_api):
    alice = new_page(browser, contexts)
    open_chat(alice, login_app.url)
    sign_in(alice, login_app, provider, ALICE)
    send(alice, "alice's private plan")
    cid = conversation_id(alice)
    alices_link = alice.url

    bob = new_page(browser, contexts)
    open_chat(bob, login_app.url)
    sign_in(bob, login_app, provider, BOB)
    assert listed_conversations(bob, login_app.url) == []
    open_app(bob, alices_link)
    not_found_text(bob)
    expect(bob.get_by_text("alice's private plan")).to_have_count(0)
    expect(bob.get_by_test_id("stSidebar")).to_contain_text(f"Signed in as {BOB.name}")

    assert cid in listed_conversations(alice, login_app.url)  # still hers


def test_sign_out_ends_the_session(login_app, provider, browser, contexts, fake_api):
    page = new_page(browser, contexts)
    open_chat(page, login_app.url)
    sign_in(page, login_app, provider, ALICE)
    send(page, "before signing out")
    cid = conversation_id(page)
    assert "_streamlit_user" in {c["name"] for c in page.context.cookies()}

    sign_out(page, login_app, provider)
    assert "_streamlit_user" not in {c["name"] for c in page.context.cookies()}
    page.reload()
    expect(page.locator(".st-key-sign-in")).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).not_to_contain_text("Signed in as")
    open_app(page, f"{login_app.url}/?c={cid}")
    not_found_text(page)
    expect(page.get_by_text("before signing out")).to_have_count(0)
    assert cid not in listed_conversations(page, login_app.url)

    open_app(page, login_app.url)  # signing in again brings it back: it was hers all along
    sign_in(page, login_app, provider, ALICE)
    assert cid in listed_conversations(page, login_app.url)


def test_require_login_allows_no_chat_before_signing_in(required_app, provider, browser,
                                                        contexts, fake_api):
    page = new_page(browser, contexts)
    open_app(page, required_app.url)
    expect(page.get_by_text("Sign in to chat.")).to_be_visible()
    expect(page.get_by_test_id("stChatInput")).to_have_count(0)
    expect(page.get_by_role("button", name="New chat")).to_have_count(0)
    open_app(page, f"{required_app.url}/conversations")  # no page is a way around it
    expect(page.get_by_text("Sign in to chat.")).to_be_visible()
    expect(page.get_by_role("heading", name="Conversations")).to_have_count(0)
    assert fake_api.chat_requests() == []

    sign_in(page, required_app, provider, BOB, button="gate-sign-in")
    expect(page.get_by_text("Sign in to chat.")).to_have_count(0)
    send(page, "now I may chat")
    expect(messages(page)).to_have_count(2)
