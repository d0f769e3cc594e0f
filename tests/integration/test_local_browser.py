"""A newcomer in a real browser: `streamlit run` with no key, so the local model answers.

Then the app is stopped as a user would (SIGTERM, like Ctrl-C or a service stop), and no local
server may survive it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from nexuschat.machine import free_port
from tests.integration.conftest import health_ok, local_servers_under, running

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60
TIMEOUT_MS = 120_000  # a deadline: the first message starts the server; a busy CPU is slow
SCREENSHOT = Path("/tmp/nexuschat-local.png")

expect.set_options(timeout=TIMEOUT_MS)


class App:
    """`streamlit run` of the real app, as a newcomer starts it: no key, no settings."""

    def __init__(self, workdir: Path) -> None:
        secrets = workdir / "secrets.toml"
        secrets.write_text("")  # a developer's own secrets file must not configure a key
        self.log = workdir / "streamlit.log"
        port = free_port()
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("NEXUSCHAT_") and name != "OPENAI_API_KEY"}
        env["NEXUSCHAT_DATA_DIR"] = str(workdir / "data")
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        self.command = [
            sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
            "--server.headless", "true", "--server.address", "127.0.0.1",
            "--server.port", str(port), "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--secrets.files", str(secrets),
        ]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not health_ok(f"{self.url}/_stcore/health"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Streamlit did not start: {' '.join(self.command)}\n"
                                   f"{self.log.read_text(errors='replace')}")
            time.sleep(0.2)

    def local_servers(self) -> list[int]:
        """Processes of this app running the local model server."""
        return local_servers_under(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def app(local_setup, tmp_path):
    """A `streamlit run` of its own for each test (the last one stops it)."""
    app = App(tmp_path)
    try:
        app.wait_healthy()
        yield app
    finally:
        app.stop()


def test_a_newcomer_gets_a_streamed_reply_from_the_local_model(page: Page, app):
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app.url)
    expect(page.get_by_text("Start a conversation")).to_be_visible()
    expect(page.get_by_text("No API key is set")).to_have_count(0)
    box = page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_enabled()
    box.fill("Say hello in one short sentence.")
    box.press("Enter")

    reply = page.get_by_test_id("stChatMessage").nth(1)
    # The footer appears once the stream has ended: the reply is in, with its facts.
    expect(reply).to_contain_text("usage not reported by the server")
    expect(reply).to_contain_text("smollm2-135m-instruct")
    text = reply.get_by_test_id("stMarkdownContainer").first.inner_text()
    assert text.strip() and "▌" not in text
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert len(app.local_servers()) == 1


def test_stopping_the_app_leaves_no_local_server_behind(page: Page, app):
    page.goto(app.url)  # the chat page's first run starts the local server
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()
    servers = app.local_servers()
    assert len(servers) == 1
    app.stop()  # SIGTERM, as Ctrl-C or a service manager would
    deadline = time.monotonic() + 30  # a deadline for waiting, not a timing assertion
    while any(running(pid) for pid in servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(running(pid) for pid in servers), app.log.read_text(errors="replace")

