"""E2E fixtures: the real app in a Streamlit subprocess, driven by Debian's Chromium.

The fake API (tests/conftest.py) runs on a thread in this pytest process; the Streamlit
subprocess reaches it over loopback, exactly as it would reach a real provider.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
KEY = "sk-e2e-secret-key-1234567890"
STARTUP_TIMEOUT_S = 60
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded one (`playwright install` is not used)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _app_env(base_url: str) -> dict[str, str]:
    """This machine's environment minus any provider settings, plus the fake API's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("NEXUSCHAT_") and name != "OPENAI_API_KEY"
    }
    env["NEXUSCHAT_BASE_URL"] = base_url
    env["NEXUSCHAT_API_KEY"] = KEY
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # loopback never via a proxy
    return env


def _health_ok(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def app_url(fake_api_server, tmp_path_factory) -> str:
    """A real `streamlit run` of the app on a free loopback port; its URL."""
    workdir = tmp_path_factory.mktemp("streamlit-e2e")
    # An empty secrets file in place of .streamlit/secrets.toml: a developer's real key or URL
    # there would otherwise win over the environment and reach a real provider.
    secrets = workdir / "secrets.toml"
    secrets.write_text("")
    log_path = workdir / "streamlit.log"
    port = _free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        # Other people edit the sources while tests run: no "source changed" reruns.
        "--server.fileWatcherType", "none",
        "--secrets.files", str(secrets),
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=_app_env(fake_api_server.base_url),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _health_ok(f"{url}/_stcore/health"):
            if process.poll() is not None or time.monotonic() > deadline:
                state = (f"exited with {process.returncode}" if process.poll() is not None
                         else f"not healthy after {STARTUP_TIMEOUT_S} s")
                output = log_path.read_text(errors="replace")
                raise RuntimeError(f"Streamlit {state}: {' '.join(command)}\n{output}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)
        if KEY in log_path.read_text(errors="replace"):
            pytest.fail(f"the API key appears in Streamlit's output ({log_path})")


@pytest.fixture(scope="session")
def base_url(app_url) -> str:
    """pytest-playwright's base URL, so pages open the app with `page.goto("/")`."""
    return app_url
