"""Integration tier: the real local model server (llama-cpp-python + the bundled SmolLM2 GGUF).

Without the `local` extra these tests skip with the reason; with CI=true they fail instead, so
CI can never pass by silently running none of them.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nexuschat.local import INSTALL_COMMAND, LocalServer, LocalSetup, find_setup
from tests.app.conftest import clean_env  # noqa: F401 - the app tier's hygiene, for AppTests here

CHROMIUM = "/usr/bin/chromium"


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` unless it holds; in CI, fail instead."""
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the integration tier must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def local_setup() -> LocalSetup:
    """Where the bundled model is; skips (fails in CI) when the `local` extra is missing."""
    found = find_setup()
    require(found.available, f"the local model is not installed ({found.missing} missing): "
                             f"run `make test` or `{INSTALL_COMMAND}`")
    return found


@pytest.fixture(scope="session")
def local_server(local_setup) -> LocalServer:
    """One real local server for the whole run, started once and stopped at the end."""
    with LocalServer(local_setup.model_path) as server:
        yield server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded one (`playwright install` is not used)."""
    require(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: install Debian's chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"],
    }


def running(pid: int | None) -> bool:
    """Whether `pid` is a live process (a zombie counts as gone)."""
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from each process's parent id in /proc (Linux)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended while we looked
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(children)
        todo.extend(children)
    return found


def local_servers_under(pid: int) -> list[int]:
    """The local model servers (`python -m nexuschat.local`) started below `pid`."""
    return [child for child in descendants(pid) if _runs_local_server(child)]


def _runs_local_server(pid: int) -> bool:
    try:
        return b"nexuschat.local" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def health_ok(url: str) -> bool:
    """Whether Streamlit's health endpoint answers "ok" (loopback, no proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False
