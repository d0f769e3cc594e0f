"""Replies render as people expect, in a real browser: LaTeX as maths, prices as prices, wide
tables scroll inside their bubble, and every message copies its raw Markdown in one click."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)

WIDE = ("| " + " | ".join(f"column {i}" for i in range(24)) + " |\n|"
        + "---|" * 24 + "\n| " + " | ".join(f"value {i}" for i in range(24)) + " |")
REPLY = ("The identity \\(e^{i\\pi} + 1 = 0\\) holds, and\n\\[\n\\int_0^1 x\\,dx = \\tfrac12\n"
         "\\]\nTickets cost $5 and $10.\n\n" + WIDE
         + "\n\n```python\nprint('\\\\(not maths\\\\)')\n```")


@pytest.fixture
def page(browser: Browser, app_url):
    context = browser.new_context(base_url=app_url, locale="en-US",
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def ask(page: Page, text: str) -> None:
    page.goto("/")
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    expect(page.get_by_test_id("stChatInputSubmitButton")).to_be_enabled()
    box.press("Enter")


def test_maths_prices_tables_and_copy(page: Page, fake_api):
    fake_api.script({"kind": "reply", "text": REPLY})
    ask(page, "show me some maths")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    expect(answer).to_contain_text("Tickets cost $5 and $10.")
    expect(answer.locator(".katex")).to_have_count(2)  # inline and display, rendered by KaTeX
    expect(answer.locator(".katex-display")).to_have_count(1)
    expect(answer).to_contain_text("total tokens")  # the reply has ended: all of it is drawn
    # No literal delimiters left in the prose (the code block keeps its own, checked below).
    prose = answer.locator("p", has_text="The identity")
    expect(prose).to_contain_text("holds, and")
    expect(prose).not_to_contain_text("\\(")
    expect(answer.locator("code")).to_contain_text("print('\\\\(not maths\\\\)')")

    table = answer.locator("table")
    widths = table.evaluate("t => [t.scrollWidth, t.clientWidth, "
                            "t.closest('[data-testid=stChatMessage]').clientWidth]")
    assert widths[0] > widths[1] and widths[1] <= widths[2]  # it scrolls inside the bubble
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]

    question = page.get_by_test_id("stChatMessage").nth(0)
    answer.locator(".nexuschat-copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == REPLY
    question.locator(".nexuschat-copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == "show me some maths"
    expect(answer.locator(".nexuschat-copy")).to_have_attribute("title", "Copied")

    page.reload()  # drawn from the store: the same controls
    answer = page.get_by_test_id("stChatMessage").nth(1)
    expect(answer.locator(".katex")).to_have_count(2)
    answer.locator(".nexuschat-copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == REPLY


def test_the_copy_control_speaks_chinese(browser: Browser, app_url, fake_api):
    context = browser.new_context(base_url=app_url, locale="zh-CN")
    page = context.new_page()
    try:
        ask(page, "你好")
        expect(page.get_by_test_id("stChatMessage").nth(1).locator(".nexuschat-copy")
               ).to_have_attribute("title", "复制为 Markdown")
    finally:
        context.close()
