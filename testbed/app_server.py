"""Real `streamlit run` processes of the app, and Debian's Chromium settings.

Used by the browser tests (tests/e2e/conftest.py's session-wide server, and tests that need a
server of their own: test_crash_recovery.py kills one with SIGKILL and starts another on the
same data dir), by testbed.sessions and by the benchmarks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from nexuschat.machine import free_port

ROOT = Path(__file__).resolve().parents[1]
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


def app_env(base_url: str, data_dir: Path) -> dict[str, str]:
    """This machine's environment minus any provider settings, plus the fake API's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("NEXUSCHAT_") and name != "OPENAI_API_KEY"
    }
    env["NEXUSCHAT_BASE_URL"] = base_url
    env["NEXUSCHAT_API_KEY"] = KEY
    env["NEXUSCHAT_PROVIDER"] = "api"  # the fake API, never the bundled local model
    env["NEXUSCHAT_DATA_DIR"] = str(data_dir)  # history in a temp dir, never the user's own
    env["NEXUSCHAT_STRICT_I18N"] = "1"  # a text that does not fit fails loudly (nexuschat.i18n)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # loopback never via a proxy
    return env


def health_ok(url: str) -> bool:
    """Whether Streamlit at `url` answers its health check."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


class LoggedProcess:
    """A server process a test starts on a loopback port, printing into `log_path`."""

    log_path: Path
    process: subprocess.Popen | None = None
    port: int = 0

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """End it politely (SIGTERM), forcibly if it does not exit."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log(self) -> str:
        """Everything it printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class StreamlitServer(LoggedProcess):
    """One `streamlit run streamlit_app.py` on a free loopback port, talking to `api_url`.

    The Popen child is the Python process serving the app (no shell, no wrapper), so `pid`
    is the process to kill to crash the server.
    """

    def __init__(self, api_url: str, workdir: Path, data_dir: Path | None = None,
                 name: str = "streamlit", env: Mapping[str, str] | None = None,
                 secrets: str = ""):
        """`env`: more environment (NEXUSCHAT_MODE=hosted, ...); `secrets`: the text of the
        server's own secrets.toml ("{port}" in an [auth] redirect_uri is filled by Streamlit)."""
        self.api_url = api_url
        self.workdir = workdir
        self.data_dir = data_dir or workdir / "data"
        self.log_path = workdir / f"{name}.log"
        self.secrets_path = workdir / f"{name}-secrets.toml"
        self.extra_env = dict(env or {})
        self.secrets = secrets

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def command(self) -> list[str]:
        # A secrets file of the test's own (empty by default) in place of
        # .streamlit/secrets.toml: a developer's real key or URL there would otherwise win over
        # the environment and reach a real provider.
        secrets = self.secrets_path
        if not secrets.exists() or secrets.read_text() != self.secrets:
            secrets.write_text(self.secrets)
        return [
            sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
            "--server.headless", "true",
            "--server.address", "127.0.0.1",
            "--server.port", str(self.port),
            "--browser.gatherUsageStats", "false",
            # Other people edit the sources while tests run: no "source changed" reruns.
            "--server.fileWatcherType", "none",
            "--secrets.files", str(secrets),
        ]

    def environment(self) -> dict[str, str]:
        """What the server runs with: the fake API's environment, plus `env`."""
        return app_env(self.api_url, self.data_dir) | self.extra_env

    def start(self, port: int = 0) -> StreamlitServer:
        """Start (on `port`; 0: a free one) and wait until healthy; raises RuntimeError with
        the log if it is not."""
        self.port = port or free_port()
        command = self.command()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.environment(),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not health_ok(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                state = (f"exited with {self.process.returncode}"
                         if self.process.poll() is not None
                         else f"not healthy after {STARTUP_TIMEOUT_S} s")
                self.stop()
                raise RuntimeError(f"Streamlit {state}: {' '.join(command)}\n{self.log()}")
            time.sleep(0.2)
        return self

    def kill(self) -> None:
        """SIGKILL the server process, as a crash or the OOM killer would, and reap it."""
        assert self.process is not None, "not started"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


    def leaked_key(self) -> bool:
        """Whether the API key appears in the server's output."""
        return KEY in self.log()
