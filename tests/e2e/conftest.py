"""E2E fixtures: the real app in a Streamlit subprocess, driven by Debian's Chromium.

The fake API (tests/conftest.py) runs on a thread in this pytest process; the Streamlit
subprocess reaches it over loopback, exactly as it would reach a real provider.
"""

from __future__ import annotations

import os

import pytest

from testbed.app_server import CHROMIUM, CHROMIUM_ARGS, KEY, StreamlitServer

__all__ = ["KEY"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded one (`playwright install` is not used)."""
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """An English browser: the app follows a Chinese browser's locale."""
    return {**browser_context_args, "locale": "en-US"}


@pytest.fixture(scope="session")
def app_url(fake_api_server, tmp_path_factory) -> str:
    """A real `streamlit run` of the app on a free loopback port; its URL."""
    server = StreamlitServer(fake_api_server.base_url, tmp_path_factory.mktemp("streamlit-e2e"))
    try:
        yield server.start().url
    finally:
        server.stop()
        if server.leaked_key():
            pytest.fail(f"the API key appears in Streamlit's output ({server.log_path})")


@pytest.fixture(scope="session")
def base_url(app_url) -> str:
    """pytest-playwright's base URL, so pages open the app with `page.goto("/")`."""
    return app_url
