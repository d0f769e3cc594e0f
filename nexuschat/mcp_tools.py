"""Tools from MCP servers (Streamable HTTP) a deployer lists, through the official `mcp` SDK.

The SDK is asynchronous and Streamlit's script runs are not: each listing or call runs the SDK
on an event loop of its own, on a worker thread (never the caller's loop, which may already be
running one), and waits for it with a timeout. A session is opened per listing or call: MCP
servers are few and calls rare next to the chat, and a fresh session cannot be left broken by
a server that restarted.
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nexuschat.tools import Tool, ToolContext, ToolFailure

LIST_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 60.0
_NAME = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class McpServer:
    """One MCP server of the deploy: a short name (shown on each call) and its endpoint."""

    name: str
    url: str
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # e.g. Authorization

    def __repr__(self) -> str:  # headers may hold a token
        return f"McpServer(name={self.name!r}, url={self.url!r})"


class McpUnavailable(Exception):
    """A server that could not be reached or did not list its tools."""


def servers_from_config(value: object) -> tuple[McpServer, ...]:
    """NEXUSCHAT_MCP_SERVERS from secrets: a table of name -> URL, or of name -> a table with
    `url` and optional `headers` (a list of tables with `name` and `url` is read too; JSON
    text of either, from the environment); entries without a name or an http(s) URL are left
    out."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return ()
    if isinstance(value, Mapping):
        value = [{"name": name, **(entry if isinstance(entry, Mapping) else {"url": entry})}
                 for name, entry in value.items()]
    if not isinstance(value, list | tuple):
        return ()
    found = []
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        name, url = str(entry.get("name") or "").strip(), str(entry.get("url") or "").strip()
        if not name or not url.startswith(("http://", "https://")):
            continue
        headers = entry.get("headers") if isinstance(entry.get("headers"), Mapping) else {}
        found.append(McpServer(name, url, tuple((str(k), str(v)) for k, v in headers.items())))
    return tuple(found)


def tool_name(server: McpServer, name: str) -> str:
    """The name the model sees: unique across servers, within the API's 64 characters."""
    return _NAME.sub("_", f"{server.name}__{name}")[:64]


@dataclass(frozen=True)
class ToolSpec:
    """One tool as a server lists it: plain data (cacheable), made a Tool by `to_tools`."""

    name: str
    description: str
    parameters: dict


def list_specs(server: McpServer, timeout: float = LIST_TIMEOUT_S) -> tuple[ToolSpec, ...]:
    """What the server lists; McpUnavailable if it cannot be listed."""

    async def listing(client) -> list:
        return (await client.list_tools()).tools

    try:
        listed = _run(server, listing, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means the same: not there now
        raise McpUnavailable(f"{server.name}: {type(_innermost(exc)).__name__}") from exc
    return tuple(ToolSpec(t.name, t.description or t.name,
                          dict(t.input_schema or {"type": "object", "properties": {}}))
                 for t in listed)


def to_tools(server: McpServer, specs: tuple[ToolSpec, ...]) -> tuple[Tool, ...]:
    """The listed tools, ready to offer: named for the server, run through it."""
    return tuple(
        Tool(name=tool_name(server, spec.name), description=spec.description,
             parameters=copy.deepcopy(spec.parameters), source=server.name,
             run=_caller(server, spec.name))
        for spec in specs
    )


def list_tools(server: McpServer, timeout: float = LIST_TIMEOUT_S) -> tuple[Tool, ...]:
    """The server's tools, ready to offer; McpUnavailable if it cannot be listed."""
    return to_tools(server, list_specs(server, timeout))


def _caller(server: McpServer, name: str) -> Callable[[dict, ToolContext], str]:
    def call(arguments: dict, context: ToolContext) -> str:
        return call_tool(server, name, arguments)

    return call


def call_tool(server: McpServer, name: str, arguments: dict,
              timeout: float = CALL_TIMEOUT_S) -> str:
    """Call one tool; its text result, or ToolFailure with what the model should be told."""

    async def calling(client):
        return await client.call_tool(name, arguments, read_timeout_seconds=timeout)

    try:
        result = _run(server, calling, timeout + 5)
    except Exception as exc:  # noqa: BLE001 - reported to the model, never a broken turn
        if _timed_out(exc):
            raise ToolFailure(f"the {server.name} server did not answer in {timeout:.0f} s") \
                from None
        raise ToolFailure(f"the {server.name} server could not be reached "
                          f"({type(_innermost(exc)).__name__})") from None
    text = "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")
    if result.is_error:
        raise ToolFailure(text or f"the {server.name} server reported an error")
    return text


def _innermost(exc: BaseException) -> BaseException:
    """The first real failure inside the SDK's task-group exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _timed_out(exc: BaseException) -> bool:
    inner = _innermost(exc)
    return isinstance(inner, TimeoutError | concurrent.futures.TimeoutError) or (
        "timed out" in str(inner).lower())


def _run(server: McpServer, work: Callable[[Any], Awaitable[Any]], timeout: float) -> Any:
    """Run `work(client)` in a session with `server`, on a loop of its own."""

    def in_thread() -> Any:
        import anyio
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        async def main() -> Any:
            headers = dict(server.headers)
            async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
                transport = streamable_http_client(server.url, http_client=http)
                async with Client(transport, read_timeout_seconds=timeout) as client:
                    return await work(client)

        return anyio.run(main)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(in_thread).result(timeout=timeout)
