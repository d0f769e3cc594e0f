"""The MCP test server's tools: a lookup, one that always fails, and one that hangs."""

import sys
import time

from mcp.server.mcpserver import MCPServer

app = MCPServer("nexuschat-test")


@app.tool()
def capital(country: str) -> str:
    """The capital city of a country."""
    return {"france": "Paris", "japan": "Tokyo", "china": "Beijing"}.get(country.lower(),
                                                                          "unknown")


@app.tool()
def explode() -> str:
    """Always fails."""
    raise RuntimeError("boom")


@app.tool()
def sleepy(seconds: float = 30) -> str:
    """Answers only after a while."""
    time.sleep(seconds)
    return "awake"


app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
