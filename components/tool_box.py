"""The tools a turn offers: the built-ins, the deploy's MCP servers' and the user's own."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components import state
from nexuschat.mcp_tools import McpServer, McpUnavailable, ToolSpec, list_specs, to_tools
from nexuschat.models import Overrides, capabilities
from nexuschat.tool_loop import Toolbox, toolbox
from nexuschat.tools import BUILTINS, Tool, ToolContext

MCP_TTL_S = 300  # a server's tool list is read again after this long (a down one: as well)


@st.cache_data(ttl=MCP_TTL_S, show_spinner=False, max_entries=64)
def _listing(name: str, url: str, headers: tuple[tuple[str, str], ...]
             ) -> tuple[tuple[ToolSpec, ...], str | None]:
    # Keyed by the server's whole config. Plain data only (a Tool's `run` is a closure): the
    # Tools are made from it on each run, so nothing cached is ever changed. A failure is
    # cached too: a server that is down costs one timeout per TTL, not one per rerun.
    try:
        return list_specs(McpServer(name, url, headers)), None
    except McpUnavailable as exc:
        return (), str(exc)


def _servers() -> tuple[tuple[McpServer, tuple[ToolSpec, ...], str | None], ...]:
    return tuple((server, *_listing(server.name, server.url, server.headers))
                 for server in state.mcp_servers())


def user_tools() -> tuple[Tool, ...]:
    """The tools the user defined (state.USER_TOOLS), as offered to the model."""
    return tuple(tool.to_tool() for tool in st.session_state.get(state.USER_TOOLS) or ())


def tools_wanted(model: str, overrides: Overrides | None) -> bool:
    """Whether this turn offers tools: switched on, and the model can call them."""
    return bool(st.session_state.get(state.TOOLS_ON)) and capabilities(model, overrides).tools


def offered_tools(model: str, overrides: Overrides | None, *,
                  mine: Callable[[], tuple[Tool, ...]] = user_tools) -> Toolbox:
    """The tools a request for `model` offers (none when switched off or the model cannot
    call them): built-ins, then each reachable MCP server's, then the user's (`mine`)."""
    if not tools_wanted(model, overrides):
        return Toolbox()
    served = [to_tools(server, specs) for server, specs, failure in _servers() if not failure]
    return toolbox(BUILTINS, *served, mine())


def down_servers(model: str, overrides: Overrides | None) -> list[str]:
    """The names of the deploy's MCP servers that could not be listed (when tools are on)."""
    if not tools_wanted(model, overrides):
        return []
    return [server.name for server, _, failure in _servers() if failure]


def context() -> ToolContext:
    """What a tool may know of the person asking: the browser's time zone."""
    return ToolContext(timezone=st.context.timezone or "UTC")
