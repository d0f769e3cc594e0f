"""A download is made on a server thread, outside the session's script run: a Chinese
visitor's Markdown export is still written in Chinese, with the page's words for each reply."""

from __future__ import annotations

import io
import zipfile

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)


def test_a_chinese_visitors_markdown_export_is_in_chinese(browser: Browser, app_url, fake_api):
    context = browser.new_context(base_url=app_url, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto("/")
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("你好")
        expect(page.get_by_test_id("stChatInputSubmitButton")).to_be_enabled()
        box.press("Enter")
        expect(page.get_by_test_id("stChatMessage").nth(1)).to_contain_text("Echo: 你好")

        page.get_by_test_id("stSidebar").get_by_role("link", name="历史对话").click()
        listed = page.locator("[class*='st-key-conversation-']"
                              ":not(.st-key-conversation-search)").first
        expect(listed).to_contain_text("2 条消息")
        listed.get_by_role("button").nth(2).click()  # the export popover, after open and rename
        with page.expect_download() as download:
            page.get_by_role("button", name="Markdown（zip 压缩包，含图片）").click()
        with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as zf:
            markdown = zf.read("conversation.md").decode("utf-8")
    finally:
        context.close()
    assert "### 用户\n\n你好" in markdown and "### 助手" in markdown
    assert "tokens" in markdown and "输入 " in markdown  # the usage line, in the page's words
