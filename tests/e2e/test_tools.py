"""Tools in a real browser: the calculator answers a question, and a real MCP server's tool
is called (and one that hangs is stopped), every call shown collapsed inside the reply."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from testbed.app_server import StreamlitServer
from tests.e2e.test_browser_chat import TIMEOUT_MS, messages, open_chat, send
from tests.mcp_server import McpTestServer

pytestmark = pytest.mark.e2e


def test_a_question_answered_with_the_calculator(page: Page, fake_api):
    open_chat(page)
    send(page, "Please calculate 12*34")
    # The reply that called, then the answer after the result.
    reply, answer = messages(page).nth(1), messages(page).nth(2)
    expect(answer.get_by_text("The tools answered: 408.")).to_be_visible()
    call = reply.get_by_test_id("stExpander")
    expect(call).to_have_count(1)
    expect(call.get_by_text("Called calculate · built-in")).to_be_visible()
    body = call.get_by_test_id("stCode")
    expect(body).to_have_count(2)
    expect(body.first).to_be_hidden()  # collapsed by default
    call.get_by_text("Called calculate · built-in").click()
    expect(body.first).to_contain_text('"expression": "12*34"')
    expect(body.nth(1)).to_contain_text("408")
    _, second = fake_api.chat_requests()
    assert second["messages"][-1]["content"] == "408"


@pytest.fixture
def mcp_app(fake_api_server, tmp_path):
    with McpTestServer() as mcp:
        secrets = f'[NEXUSCHAT_MCP_SERVERS]\natlas = "{mcp.url}"\n'
        server = StreamlitServer(fake_api_server.base_url, tmp_path, name="mcp-app",
                                 secrets=secrets)
        try:
            yield server.start().url
        finally:
            server.stop()


def test_a_tool_from_the_real_mcp_server_and_stop_while_one_runs(page: Page, fake_api,
                                                                 mcp_app):
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(mcp_app)
    expect(page.get_by_text("Start a conversation")).to_be_visible()
    send(page, "What is the capital of Japan?")
    expect(messages(page).nth(2).get_by_text("The tools answered: Tokyo.")).to_be_visible()
    expect(messages(page).nth(1).get_by_text("Called atlas__capital · MCP server atlas")
           ).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("cannot be reached")).to_have_count(0)

    send(page, 'call atlas__sleepy with {"seconds": 30}')
    expect(page.get_by_text("Calling atlas__sleepy · MCP server atlas…")).to_be_visible()
    page.locator("[class*='st-key-stop-tools']").get_by_role("button").click()
    expect(page.get_by_text("Called atlas__sleepy · MCP server atlas · stopped")).to_be_visible()
    expect(page.locator("[class*='st-key-stop-tools']")).to_have_count(0)
    # The turn ended there: no request after the stopped call.
    assert len(fake_api.chat_requests()) == 3
