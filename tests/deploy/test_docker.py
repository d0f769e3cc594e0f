"""The Docker image, built and run as a deployer would: its health check goes healthy, it runs
as a user other than root with its data in the /data volume, and a real browser gets a streamed
reply from it (the fake API on the host's loopback, the container on the host network). No key
in its logs.

The public Dockerfile builds on python:3.12-slim from Docker Hub. Where no registry is
reachable (CI), a local Debian base made by scripts/docker-base-image stands in, and pip
installs from a wheelhouse built on the host (`pip wheel`; the base's Python is the same
minor version as this one's), so nothing inside the build needs the network's certificates.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from nexuschat.machine import free_port
from tests.deploy.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_BASE = "python:3.12-slim"
LOCAL_BASE = "nexuschat-base:bookworm"
WHEELHOUSE = ROOT / ".wheelhouse"  # gitignored; inside the build context
KEY = "sk-docker-deploy-key-5550123"
HEALTHY_WITHIN_S = 120

pytestmark = [pytest.mark.deploy, pytest.mark.e2e]


def _run(args: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def _docker_ready() -> str | None:
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    info = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30)
    return None if info.returncode == 0 else f"no Docker engine answers ({info.stderr.strip()})"


def _image_exists(name: str) -> bool:
    return _run(["docker", "image", "inspect", name], timeout=30).returncode == 0


def _base_and_pip_args() -> list[str]:
    """Build arguments: the public base if it is here, else the local one and the wheelhouse."""
    if _image_exists(PUBLIC_BASE):
        return ["--build-arg", f"BASE_IMAGE={PUBLIC_BASE}"]
    made = _run([str(ROOT / "scripts" / "docker-base-image"), LOCAL_BASE], timeout=900)
    if made.returncode != 0:
        unavailable(f"no base image: {made.stderr.strip()[-500:]}")
    probe = _run(["docker", "run", "--rm", LOCAL_BASE, "python3", "-c",
                  "import sys; print(sys.version_info[0], sys.version_info[1])"])
    theirs = tuple(int(n) for n in probe.stdout.split())
    if theirs != sys.version_info[:2]:
        unavailable(f"the local base has Python {theirs}, this one {sys.version_info[:2]}: "
                    "its wheelhouse would not fit")
    wheels = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                   "-r", str(ROOT / "requirements.txt"), "-w", str(WHEELHOUSE)], timeout=900)
    assert wheels.returncode == 0, wheels.stderr[-3000:]
    return ["--build-arg", f"BASE_IMAGE={LOCAL_BASE}", "--build-arg", "PIP_NO_INDEX=1",
            "--build-arg", "PIP_FIND_LINKS=/src/.wheelhouse"]


@pytest.fixture(scope="module")
def image() -> str:
    """The image of this checkout (tagged by a digest of the Dockerfile and requirements)."""
    if reason := _docker_ready():
        unavailable(reason)
    digest = hashlib.sha256((ROOT / "Dockerfile").read_bytes()
                            + (ROOT / "requirements.txt").read_bytes()).hexdigest()[:12]
    name = f"nexuschat-test:{digest}"
    built = _run(["docker", "build", "--network", "host", "--quiet", "-t", name,
                  *_base_and_pip_args(), str(ROOT)], timeout=1800)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return name


@pytest.fixture
def container(image, fake_api, tmp_path):
    """The image running on the host network against the fake API; its name and URL."""
    port = free_port()
    name = f"nexuschat-test-{port}"
    started = _run(["docker", "run", "-d", "--name", name, "--network", "host",
                    "--health-interval", "1s", "--health-start-period", "2s",
                    "-e", f"STREAMLIT_SERVER_PORT={port}",
                    "-e", "STREAMLIT_SERVER_ADDRESS=127.0.0.1",
                    "-e", "NEXUSCHAT_MODE=hosted",
                    "-e", f"NEXUSCHAT_API_KEY={KEY}",
                    "-e", f"NEXUSCHAT_BASE_URL={fake_api.base_url}",
                    "-e", "NEXUSCHAT_MODEL=test-model",
                    image])
    assert started.returncode == 0, started.stderr
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        logs = _run(["docker", "logs", name])
        _run(["docker", "rm", "-f", "-v", name])
        assert KEY not in logs.stdout + logs.stderr, "the API key appears in the container's log"


def _inspect(name: str) -> dict:
    return json.loads(_run(["docker", "inspect", name]).stdout)[0]


def _wait_healthy(name: str) -> str:
    deadline = time.monotonic() + HEALTHY_WITHIN_S
    status = ""
    while time.monotonic() < deadline:
        state = _inspect(name)["State"]
        status = (state.get("Health") or {}).get("Status", "")
        if status == "healthy" or not state.get("Running"):
            break
        time.sleep(0.5)
    return status


def test_the_container_goes_healthy_runs_as_a_user_and_keeps_data_in_its_volume(container):
    name, _ = container
    assert _wait_healthy(name) == "healthy", _run(["docker", "logs", name]).stderr[-2000:]
    config = _inspect(name)["Config"]
    assert "/data" in (config.get("Volumes") or {})
    uid = _run(["docker", "exec", name, "id", "-u"]).stdout.strip()
    assert uid and uid != "0"
    writable = _run(["docker", "exec", name, "sh", "-c", "touch /data/probe && echo ok"])
    assert writable.stdout.strip() == "ok"
    # Only the app went into the image: no tests, benchmarks or secrets.
    listing = _run(["docker", "exec", name, "ls", "-A", "/app"]).stdout.split()
    assert sorted(listing) == sorted(
        [".streamlit", "app_pages", "components", "nexuschat", "router.py", "streamlit_app.py"])


def test_a_browser_gets_a_streamed_reply_from_the_container(container, browser: Browser,
                                                            fake_api):
    name, url = container
    assert _wait_healthy(name) == "healthy"
    fake_api.script({"kind": "reply", "tokens": 40})
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _talk(page, url, fake_api, name)
    context.close()


def _talk(page, url: str, fake_api, name: str) -> None:
    page.goto(url)
    box = page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_enabled(timeout=30_000)
    box.fill("hello from the browser")
    box.press("Enter")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    expect(answer).to_contain_text("w39", timeout=30_000)
    expect(answer).to_contain_text("total tokens")
    (body,) = fake_api.chat_requests()
    assert body["messages"][-1]["content"] == "hello from the browser"
    assert body["stream"] is True
    # The conversation was saved in the container's data volume.
    files = _run(["docker", "exec", name, "ls", "/data"]).stdout.split()
    assert "nexuschat.sqlite3" in files
    assert KEY not in page.content()
    assert os.environ.get("NEXUSCHAT_API_KEY") != KEY  # (the key went to the container only)
