"""A real MCP server (the official SDK's MCPServer, formerly FastMCP) for the tests, on loopback.

`python -m tests.mcp_server PORT` serves Streamable HTTP at http://127.0.0.1:PORT/mcp with a
few tools; `McpTestServer` starts and stops that process for a test.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from nexuschat.machine import free_port

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30


class McpTestServer:
    """`python -m tests.mcp_server` on a free loopback port."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> McpTestServer:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.mcp_server", str(self.port)], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.2)
        return self

    def _answers(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            opener.open(self.url, timeout=2)
        except urllib.error.HTTPError:
            return True  # it answered (a GET without a session is refused): it is up
        except (urllib.error.URLError, OSError):
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> McpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
