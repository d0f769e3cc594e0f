"""The chat in a real browser: Chromium drives `streamlit run`, which talks to the fake API.

Each test opens a fresh page, hence a fresh Streamlit session. Waits are Playwright's
auto-waiting `expect`, never sleeps or timing assertions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from nexuschat.machine import free_port
from tests.e2e.conftest import KEY

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000
SCREENSHOT = Path("/tmp/nexuschat-e2e.png")

expect.set_options(timeout=TIMEOUT_MS)


def open_chat(page: Page) -> None:
    """Load the app (a fresh session) and wait until its first run has drawn the empty chat."""
    page.set_default_timeout(TIMEOUT_MS)
    page.goto("/")
    expect(page.get_by_text("Start a conversation")).to_be_visible()
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()


def send(page: Page, text: str, *files: Path) -> None:
    """Type, attach through the chat input's own file input, and press Enter."""
    chat = page.get_by_test_id("stChatInput")
    box = chat.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    if files:
        chat.locator("input[type=file]").set_input_files(list(files))
        for file in files:
            expect(chat.get_by_text(file.name)).to_be_visible()
    # The send button is enabled only once every attachment has finished uploading.
    expect(chat.get_by_test_id("stChatInputSubmitButton")).to_be_enabled()
    box.press("Enter")


def messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage")


def reply_body(message: Locator) -> Locator:
    """The reply text of an assistant bubble (its first markdown block)."""
    return message.get_by_test_id("stMarkdownContainer").first


def word(token: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(token)}\b")


def test_a_question_with_an_image_streams_the_answer(page: Page, fake_api, tmp_path):
    image = tmp_path / "swatch.png"
    Image.new("RGB", (800, 600), (20, 120, 200)).save(image, "PNG")
    open_chat(page)

    send(page, "what colour is this?", image)

    question, answer = messages(page).nth(0), messages(page).nth(1)
    expect(answer).to_contain_text("Echo: what colour is this? [images: 1]")
    expect(answer).to_contain_text("total tokens")
    expect(question).to_contain_text("what colour is this?")
    expect(question.get_by_test_id("stImage")).to_be_visible()
    expect(question).to_contain_text(re.compile(r"800×600 · \d+(\.\d)? [KM]?B · ~640 tokens"))

    (body,) = fake_api.chat_requests()
    parts = body["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "what colour is this?"}
    images = [p for p in parts if p.get("type") == "image_url"]
    assert len(images) == 1
    assert images[0]["image_url"]["url"].startswith("data:image/")
    page.set_viewport_size({"width": 1280, "height": 1300})  # the whole chat, for a human
    expect(answer).to_be_in_viewport()
    page.screenshot(path=str(SCREENSHOT))


def test_a_long_streamed_reply_renders_in_full(page: Page, fake_api):
    fake_api.script({"kind": "reply", "tokens": 3000})
    open_chat(page)

    send(page, "tell me everything")

    answer = messages(page).nth(1)
    expect(answer.get_by_text(word("w2999"))).to_be_visible()
    expect(answer).to_contain_text("total tokens")
    expect(reply_body(answer)).not_to_contain_text("▌")  # the streaming cursor is gone
    assert reply_body(answer).inner_text().split() == [f"w{i}" for i in range(3000)]


def test_stop_keeps_the_partial_reply(page: Page, fake_api):
    fake_api.script({"kind": "reply", "tokens": 2000, "tokens_per_second": 50})
    open_chat(page)

    send(page, "count slowly")

    answer = messages(page).nth(1)
    expect(answer.get_by_text(word("w5"))).to_be_visible()
    page.locator(".st-key-stop-stream").get_by_role("button").click()

    expect(answer).to_contain_text("Stopped by you")
    expect(page.locator(".st-key-stop-stream")).to_have_count(0)
    partial = reply_body(answer)
    expect(partial).to_contain_text(word("w5"))
    expect(partial).not_to_contain_text("▌")
    expect(page.get_by_text(word("w1999"))).to_have_count(0)
    words = partial.inner_text().split()
    assert words == [f"w{i}" for i in range(len(words))]  # a clean prefix of the reply
    assert 6 <= len(words) < 2000
    assert len(fake_api.chat_requests()) == 1


def test_a_server_error_is_explained_and_retry_answers(page: Page, fake_api):
    fake_api.script({"kind": "error", "status": 500, "message": "boom"})
    open_chat(page)

    send(page, "try me")

    expect(page.get_by_test_id("stAlert")).to_contain_text("server had an error")
    expect(messages(page).nth(0)).to_contain_text("try me")
    page.locator("[class*='st-key-retry-']").get_by_role("button").click()

    expect(messages(page).nth(1)).to_contain_text("Echo: try me")
    expect(page.get_by_text("server had an error")).to_have_count(0)
    expect(messages(page)).to_have_count(2)
    assert len(fake_api.chat_requests()) == 2


def test_the_api_key_never_reaches_the_page(page: Page, fake_api):
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived",
        lambda payload: frames.append(payload if isinstance(payload, bytes)
                                      else payload.encode())))
    open_chat(page)
    send(page, "is my key safe?")
    expect(messages(page).nth(1)).to_contain_text("Echo: is my key safe?")

    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stExpander").filter(has_text="Provider").locator("summary").click()
    key_box = sidebar.get_by_role("textbox", name="API key", exact=True)
    expect(key_box).to_be_visible()
    expect(sidebar).to_contain_text("environment")  # where the key in use comes from

    assert KEY not in page.content()
    assert key_box.input_value() == ""
    assert frames and not any(KEY.encode() in frame for frame in frames)
    # The key was in use all along: it went to the API, and only there.
    chat_calls = [r for r in fake_api.requests if r["path"] == "/v1/chat/completions"]
    assert chat_calls and chat_calls[-1]["headers"]["authorization"] == f"Bearer {KEY}"


def test_controls_work_while_a_reply_streams(page: Page, fake_api):
    fake_api.script({"kind": "reply", "text": "first answer"},
                    {"kind": "reply", "tokens": 2000, "tokens_per_second": 50})
    open_chat(page)
    send(page, "one")
    expect(messages(page).nth(1)).to_contain_text("first answer")
    send(page, "two, slowly")
    answer = messages(page).nth(3)
    expect(answer.get_by_text(word("w5"))).to_be_visible()

    # Edit the first question while the second reply streams: the stream stops, its text is
    # kept, and the editor opens.
    page.locator("[class*='st-key-edit-']").first.get_by_role("button").click()
    expect(page.get_by_role("textbox", name=re.compile("Edit"))).to_be_visible()
    expect(answer).to_contain_text("Stopped by you")
    expect(reply_body(answer)).to_contain_text(word("w5"))
    assert len(fake_api.chat_requests()) == 2


def test_new_chat_while_a_reply_streams_keeps_that_reply(page: Page, fake_api):
    fake_api.script({"kind": "reply", "tokens": 2000, "tokens_per_second": 50})
    open_chat(page)
    send(page, "keep me")
    expect(messages(page).nth(1).get_by_text(word("w5"))).to_be_visible()

    page.get_by_test_id("stSidebar").get_by_role("button", name="New chat").click()

    expect(page.get_by_text("Start a conversation")).to_be_visible()
    expect(messages(page)).to_have_count(0)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Conversations").click()
    page.get_by_role("button", name=re.compile("keep me")).click()
    expect(messages(page).nth(0)).to_contain_text("keep me")
    expect(reply_body(messages(page).nth(1))).to_contain_text(word("w5"))
    expect(messages(page).nth(1)).to_contain_text("Stopped by you")


def test_a_regenerated_reply_shows_its_versions_as_soon_as_it_ends(page: Page, fake_api):
    fake_api.script({"kind": "reply", "text": "first version"},
                    {"kind": "reply", "text": "second version"})
    open_chat(page)
    send(page, "pick one")
    expect(messages(page).nth(1)).to_contain_text("first version")

    page.locator("[class*='st-key-regenerate-']").get_by_role("button").click()

    answer = messages(page).nth(1)
    expect(answer).to_contain_text("second version")
    expect(answer).to_contain_text("2/2")  # drawn by the turn itself, no second page run
    expect(messages(page)).to_have_count(2)


def test_an_unreachable_server_is_explained_and_the_question_kept(page: Page, fake_api):
    port = free_port()  # nothing listens there
    open_chat(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stExpander").filter(has_text="Provider").locator("summary").click()
    url_box = sidebar.get_by_role("textbox", name="API base URL")
    url_box.fill(f"http://127.0.0.1:{port}/v1")
    url_box.press("Enter")
    expect(sidebar).to_contain_text("Could not list models")

    send(page, "are you there?")

    expect(page.get_by_test_id("stAlert").filter(has_text="Could not connect")).to_be_visible()
    expect(messages(page).nth(0)).to_contain_text("are you there?")
    expect(page.locator("[class*='st-key-retry-']").get_by_role("button")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert fake_api.chat_requests() == []
