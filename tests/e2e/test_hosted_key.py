"""A hosted deploy in a real browser, tried as a visitor who wants the deployer's key would.

The app runs hosted (NEXUSCHAT_MODE=hosted) with the deployer's key and base URL (the fake API)
in its environment, and lets visitors bring their own keys to one listed host: a second loopback
server standing in for a stranger's host. The visitor points the app at that host, then drives
every path that sends a request (the model list, a turn, Retry, Continue, regenerate, edit and
resend, a retry after a 429, a redirect from the deployer's API). The stranger's host must see
the visitor's own key when the visitor uses it, and never the deployer's.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from testbed.app_server import KEY, StreamlitServer
from testbed.fake_api import FakeAPI

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000
VISITOR_KEY = "sk-visitor-e2e-key-7777777"
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def stranger():
    with FakeAPI() as server:
        yield server


@pytest.fixture(scope="module")
def hosted(fake_api_server, stranger, tmp_path_factory):
    server = StreamlitServer(fake_api_server.base_url, tmp_path_factory.mktemp("hosted"),
                             name="hosted", env={
                                 "NEXUSCHAT_MODE": "hosted",
                                 "NEXUSCHAT_ALLOW_USER_KEYS": "true",
                                 "NEXUSCHAT_ALLOWED_BASE_URLS": stranger.base_url,
                                 # every path below in well under a minute: not what is tested
                                 "NEXUSCHAT_LIMIT_REQUESTS_PER_MINUTE": "100",
                             })
    try:
        yield server.start()
    finally:
        server.stop()
        if server.leaked_key() or VISITOR_KEY in server.log():
            pytest.fail(f"a key appears in Streamlit's output ({server.log_path})")


@pytest.fixture
def page(browser: Browser, hosted, fake_api, stranger):
    stranger.reset()
    context = browser.new_context(base_url=hosted.url, locale="en-US", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(
        payload if isinstance(payload, bytes) else payload.encode())))
    page.frames_received = frames  # type: ignore[attr-defined]
    yield page
    context.close()


def messages(page: Page):
    return page.get_by_test_id("stChatMessage")


def send(page: Page, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    expect(page.get_by_test_id("stChatInputSubmitButton")).to_be_enabled()
    box.press("Enter")


def provider(page: Page):
    sidebar = page.get_by_test_id("stSidebar")
    expander = sidebar.get_by_test_id("stExpander").filter(has_text="Provider")
    if not expander.get_by_role("textbox", name="API base URL").is_visible():
        expander.locator("summary").click()
    return expander


def click(page: Page, key_prefix: str, nth: int = -1) -> None:
    buttons = page.locator(f"[class*='st-key-{key_prefix}']").get_by_role("button")
    (buttons.last if nth == -1 else buttons.nth(nth)).click()


def authorizations(server: FakeAPI) -> list[str]:
    return [r["headers"].get("authorization", "") for r in server.requests]


def test_the_stranger_host_never_receives_the_deployer_key(page: Page, fake_api, stranger):
    page.goto("/")
    fields = provider(page)
    url_box = fields.get_by_role("textbox", name="API base URL")
    expect(url_box).to_be_disabled()  # the deploy's own key is in use: its URL is fixed
    expect(url_box).to_have_value(fake_api.base_url)
    expect(fields).to_contain_text("only ever sent to this address")

    # With a key of their own, the visitor may use the listed host: it gets the visitor's key.
    key_box = fields.get_by_role("textbox", name="API key", exact=True)
    key_box.fill(VISITOR_KEY)
    key_box.press("Enter")
    expect(url_box).to_be_enabled()
    url_box.fill(stranger.base_url)
    url_box.press("Enter")
    expect(fields).to_contain_text("Allowed here")
    send(page, "with my own key")
    expect(messages(page).nth(1)).to_contain_text("Echo: with my own key")
    assert set(authorizations(stranger)) == {f"Bearer {VISITOR_KEY}"}
    visitor_calls = len(stranger.requests)

    # The visitor forgets their key: the deployer's key is back, and with it the deployer's
    # URL, although the stranger's address is still what the visitor typed.
    expect(key_box).to_have_value("")  # the field gives the key back to nobody
    fields.get_by_role("button", name="Forget my key").click()
    url_box = fields.get_by_role("textbox", name="API base URL")
    expect(url_box).to_be_disabled()
    expect(url_box).to_have_value(fake_api.base_url)
    page.locator(".st-key-refresh-models").get_by_role("button").click()  # the model list

    fake_api.script(
        {"kind": "reply", "text": "plain turn"},
        {"kind": "error", "status": 500, "message": "boom"},
        {"kind": "reply", "text": "after retry"},
        {"kind": "reply", "text": "cut short", "finish_reason": "length"},
        {"kind": "reply", "text": " and continued"},
        {"kind": "reply", "text": "regenerated"},
        {"kind": "reply", "text": "edited answer"},
        {"kind": "error", "status": 429, "headers": {"Retry-After": "1"}},
        {"kind": "reply", "text": "after the wait"},
        {"kind": "redirect", "location": stranger.base_url + "/chat/completions"},
    )
    send(page, "a plain turn")
    expect(messages(page).nth(3)).to_contain_text("plain turn")
    send(page, "fail first")
    expect(page.get_by_test_id("stAlert").filter(has_text="server had an error")).to_be_visible()
    click(page, "retry-")
    expect(messages(page).nth(5)).to_contain_text("after retry")
    send(page, "be brief")
    expect(messages(page).nth(7)).to_contain_text("cut short")
    click(page, "continue-")
    expect(messages(page).nth(7)).to_contain_text("cut short and continued")
    click(page, "regenerate-")
    expect(messages(page).nth(7)).to_contain_text("regenerated")
    click(page, "edit-")
    editor = page.get_by_role("textbox", name=re.compile("Edit"))
    editor.fill("be brief, edited")
    page.locator("[class*='st-key-send-edit-']").get_by_role("button").click()
    expect(messages(page).nth(7)).to_contain_text("edited answer")
    send(page, "rate limit me")
    expect(page.get_by_test_id("stAlert").filter(has_text="429")).to_be_visible()
    click(page, "retry-")
    expect(messages(page).nth(9)).to_contain_text("after the wait")
    send(page, "follow the redirect")
    expect(page.get_by_test_id("stAlert").filter(has_text="was not followed")).to_be_visible()

    chat_keys = {r["headers"]["authorization"] for r in fake_api.requests
                 if r["path"] == "/v1/chat/completions"}
    assert chat_keys == {f"Bearer {KEY}"}
    assert len(fake_api.chat_requests()) == 10  # every path above reached the deployer's API
    assert len(stranger.requests) == visitor_calls  # and nothing more reached the stranger
    assert f"Bearer {KEY}" not in authorizations(stranger)
    assert KEY not in page.content() and VISITOR_KEY not in page.content()
    frames = page.frames_received  # type: ignore[attr-defined]
    assert frames and not any(KEY.encode() in f or VISITOR_KEY.encode() in f for f in frames)


def test_a_visitor_cannot_point_the_deploy_at_the_server_itself(page: Page, fake_api,
                                                                  stranger):
    page.goto("/")
    fields = provider(page)
    key_box = fields.get_by_role("textbox", name="API key", exact=True)
    key_box.fill(VISITOR_KEY)
    key_box.press("Enter")
    url_box = fields.get_by_role("textbox", name="API base URL")
    expect(url_box).to_be_enabled()
    for url in ("http://127.0.0.1:5432/v1", "http://169.254.169.254/latest/meta-data",
                f"http://[::ffff:127.0.0.1]:{stranger.port}/v1"):
        url_box.fill(url)
        url_box.press("Enter")
        expect(fields.get_by_test_id("stAlert")).to_contain_text("does not send requests")
        expect(page.get_by_test_id("stChatInputTextArea")).to_be_disabled()
    assert stranger.requests == []


def test_keys_stay_out_of_error_messages_exports_and_the_database(page: Page, fake_api,
                                                                    stranger, hosted):
    fake_api.script({"kind": "error", "status": 400,
                     "message": f"Invalid key {KEY} (also sk-guessed0123456789)"})
    page.goto("/")
    send(page, "make the server echo my key")
    alert = page.get_by_test_id("stAlert").filter(has_text="rejected the request")
    expect(alert).to_contain_text("Invalid key ***")
    # The visitor's own key, echoed by the visitor's own server, is masked the same way.
    fields = provider(page)
    key_box = fields.get_by_role("textbox", name="API key", exact=True)
    key_box.fill(VISITOR_KEY)
    key_box.press("Enter")
    url_box = fields.get_by_role("textbox", name="API base URL")
    url_box.fill(stranger.base_url)
    url_box.press("Enter")
    stranger.script({"kind": "stream_error", "message": f"quota for {VISITOR_KEY} exceeded"})
    send(page, "and mine")
    expect(page.get_by_test_id("stAlert").filter(has_text="quota for")).to_contain_text(
        "quota for *** exceeded")

    page.get_by_test_id("stSidebar").get_by_role("link", name="Conversations").click()
    exported = []
    for label in ("JSON (complete, with images)", "Markdown (zip with images)"):
        # The newest conversation's export popover (after its title and rename).
        newest = page.locator("[class*='st-key-conversation-']"
                              ":not(.st-key-conversation-search)").first
        newest.get_by_role("button").nth(2).click()
        with page.expect_download() as download:
            page.get_by_role("button", name=label).click()
        exported.append(download.value.path().read_bytes())
        page.keyboard.press("Escape")
    assert b"and mine" in exported[0]  # the conversation that met both echoes
    stored = b"".join(p.read_bytes() for p in hosted.data_dir.rglob("*") if p.is_file())
    for secret in (KEY, VISITOR_KEY):
        assert secret not in page.content()
        assert all(secret.encode() not in data for data in exported)
        assert secret.encode() not in stored
        frames = page.frames_received  # type: ignore[attr-defined]
        assert not any(secret.encode() in f for f in frames)
    assert stored  # the database is there, and was searched
