"""Tools from a real MCP server on loopback (the SDK's own server), through the SDK's client."""

from __future__ import annotations

import pytest

from nexuschat.mcp_tools import (
    McpServer,
    McpUnavailable,
    call_tool,
    list_tools,
    servers_from_config,
    tool_name,
)
from nexuschat.tools import ToolContext, ToolFailure
from tests.mcp_server import McpTestServer


@pytest.fixture(scope="module")
def mcp_url():
    with McpTestServer() as server:
        yield server.url


def test_its_tools_are_listed_with_their_schemas(mcp_url):
    tools = {t.name: t for t in list_tools(McpServer("atlas", mcp_url))}
    assert set(tools) == {"atlas__capital", "atlas__explode", "atlas__sleepy"}
    capital = tools["atlas__capital"]
    assert capital.source == "atlas"
    assert capital.description == "The capital city of a country."
    assert capital.parameters["properties"]["country"]["type"] == "string"
    assert capital.to_request()["function"]["name"] == "atlas__capital"


def test_a_call_returns_its_text_and_a_failure_is_told_to_the_model(mcp_url):
    tools = {t.name: t for t in list_tools(McpServer("atlas", mcp_url))}
    assert tools["atlas__capital"].run({"country": "Japan"}, ToolContext()) == "Tokyo"
    with pytest.raises(ToolFailure, match="Error executing tool explode"):
        tools["atlas__explode"].run({}, ToolContext())


def test_a_slow_tool_times_out_into_a_failure(mcp_url):
    with pytest.raises(ToolFailure, match="did not answer in 1 s"):
        call_tool(McpServer("atlas", mcp_url), "sleepy", {"seconds": 30}, timeout=1)


def test_a_server_that_is_down_is_unavailable():
    with pytest.raises(McpUnavailable, match="down"):
        list_tools(McpServer("down", "http://127.0.0.1:9/mcp"), timeout=3)
    with pytest.raises(ToolFailure, match="could not be reached"):
        call_tool(McpServer("down", "http://127.0.0.1:9/mcp"), "x", {}, timeout=3)


def test_servers_come_from_the_deployers_secrets():
    servers = servers_from_config([
        {"name": "atlas", "url": "https://mcp.example/mcp",
         "headers": {"Authorization": "Bearer secret-token-123"}},
        {"name": "", "url": "https://x"}, {"name": "bad", "url": "ftp://x"}, "junk"])
    assert [s.name for s in servers] == ["atlas"]
    assert servers[0].headers == (("Authorization", "Bearer secret-token-123"),)
    assert "secret-token-123" not in repr(servers[0])
    assert servers_from_config(None) == ()


def test_tool_names_fit_the_api():
    long = McpServer("a server with spaces & symbols", "http://x")
    name = tool_name(long, "a" * 80)
    assert len(name) <= 64 and all(c.isalnum() or c in "_-" for c in name)


def test_servers_may_be_a_table_of_names_or_json_text():
    servers = servers_from_config({
        "atlas": "http://127.0.0.1:1/mcp",
        "docs": {"url": "https://docs.example/mcp", "headers": {"X-Key": "k"}},
        "bad": {"url": "file:///etc"}})
    assert [(s.name, s.url, s.headers) for s in servers] == [
        ("atlas", "http://127.0.0.1:1/mcp", ()),
        ("docs", "https://docs.example/mcp", (("X-Key", "k"),))]
    assert servers_from_config('{"atlas": "https://a.example/mcp"}')[0].name == "atlas"
    assert servers_from_config("not json") == servers_from_config(None) == ()
    assert "k" not in repr(servers[1])
