"""Browser helpers for the identity and login tests: loopback-only contexts, chat, URLs."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect

TIMEOUT_MS = 20_000
LOOPBACK = re.compile(r"^[a-z]+://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
NOT_FOUND = "That conversation does not exist, or it is not yours."


def _loopback_only(route: Route) -> None:
    # Nothing leaves the machine: the OIDC provider's pages link a stylesheet on a public CDN.
    if LOOPBACK.match(route.request.url):
        route.fallback()
    else:
        route.abort()


def new_page(browser: Browser, contexts: list[BrowserContext]) -> Page:
    """A page in a fresh browser context (its own cookies: another browser), loopback only."""
    context = browser.new_context(locale="en-US")
    context.route("**/*", _loopback_only)
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage")


def open_app(page: Page, url: str) -> None:
    """Load `url` and wait until the app's first run has started and ended."""
    page.goto(url)
    expect(page.locator(IDLE)).to_be_visible()
    expect(page.get_by_role("main")).not_to_be_empty()


def open_chat(page: Page, url: str) -> None:
    """Load the app at `url` (a fresh session) and wait for the ready chat input."""
    page.goto(url)
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()


def send(page: Page, text: str) -> None:
    """Type into the chat input, press Enter, and wait for the fake API's echo."""
    box = page.get_by_test_id("stChatInput").get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text(f"Echo: {text}")


def conversation_id(page: Page) -> str:
    """The open conversation named in the page's URL (`?c=<id>`)."""
    expect(page).to_have_url(re.compile(r"[?&]c=[0-9a-f]+"))
    return parse_qs(urlsplit(page.url).query)["c"][0]


def not_found_text(page: Page) -> str:
    """The text of the "not found" warning on the page (waits for it)."""
    alert = page.get_by_test_id("stAlert").filter(has_text=NOT_FOUND)
    expect(alert).to_be_visible()
    return " ".join(alert.inner_text().split())


def listed_conversations(page: Page, url: str) -> list[str]:
    """The ids the Conversations page lists for this browser."""
    open_app(page, f"{url}/conversations")
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    rows = page.locator('[class*="st-key-open-"]')
    expect(page.get_by_text("No conversations yet").or_(rows.first)).to_be_visible()
    classes = page.locator('[class*="st-key-open-"]').evaluate_all(
        "els => els.map(e => e.className)")
    return [m[1] for c in classes if (m := re.search(r"st-key-open-([0-9a-f]+)", c))]
