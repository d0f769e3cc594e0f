"""What every benchmark shares: the machine line, its own PERFORMANCE.md section, a free port,
starting a page under test (the app, a naive baseline, Gradio), and percentiles.

The fake API, the app's own server starter and the many-sessions driver are in testbed/ (shared
with the tests); nothing here imports from tests/.
"""

from __future__ import annotations

import ast
import contextlib
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from nexuschat.machine import cpu_cores, free_port

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "PERFORMANCE.md"
STARTUP_TIMEOUT_S = 60

__all__ = ["DOC", "ROOT", "AppServer", "app_env", "clean_env", "free_port", "healthy", "machine",
           "median_ms", "percentile", "repaint_interval_s", "write_section"]


def machine() -> str:
    """CPU count, model and memory, as shown in each section's first line."""
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found[1].strip() if found else cpu
    memory = ""
    with contextlib.suppress(OSError, TypeError):
        kb = int(re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M)[1])
        memory = f", {kb / 2**20:.0f} GB RAM"
    return f"`nproc` {cpu_cores()}, {cpu}{memory}"


def write_section(section: str, text: str) -> None:
    """Replace (or add) one `## ` section of docs/PERFORMANCE.md, leaving the others alone."""
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    text = text.rstrip("\n") + "\n\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text, doc, count=1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    # a blank line above the heading, whatever the section before it ends with
    doc = re.sub(rf"(?<=[^\n])\n(?={re.escape(section)}\n)", "\n\n", doc)
    DOC.write_text(doc.rstrip("\n") + "\n")


def repaint_interval_s() -> float:
    """The app's repaint clock, read from its source (importing it would need a runtime)."""
    tree = ast.parse((DOC.parents[1] / "components" / "live_reply.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "REPAINT_INTERVAL_S" for t in node.targets):
            return float(ast.literal_eval(node.value))
    raise RuntimeError("REPAINT_INTERVAL_S not found in components/live_reply.py")


def clean_env() -> dict[str, str]:
    """This environment minus provider settings; loopback never through a proxy."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEXUSCHAT_", "BENCH_", "GRADIO_")) and k != "OPENAI_API_KEY"}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def app_env(url_var: str, api_url: str, data_dir: Path) -> dict[str, str]:
    """What every page under test runs with: the fake API, a throwaway store, no telemetry."""
    return clean_env() | {
        url_var: api_url,
        "NEXUSCHAT_PROVIDER": "api",  # the fake API, never the bundled local model
        "NEXUSCHAT_API_KEY": "sk-bench-not-a-key",
        "NEXUSCHAT_DATA_DIR": str(data_dir),  # history in a temp dir, never the user's own
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }


def healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class AppServer:
    """`streamlit run script` (or a Gradio script) on a free loopback port; restartable."""

    def __init__(self, script: str, url_var: str, api_url: str, workdir: Path,
                 server: str = "streamlit") -> None:
        self.script, self.workdir, self.server = script, workdir, server
        self.env = app_env(url_var, api_url, workdir / "data")
        self.process: subprocess.Popen | None = None
        self.url = ""

    def command(self, port: int) -> list[str]:
        if self.server == "gradio":  # binds 127.0.0.1:BENCH_PORT itself (gradio_app.py)
            self.env["BENCH_PORT"] = str(port)
            return [sys.executable, self.script]
        secrets = self.workdir / "secrets.toml"
        secrets.write_text("")  # a developer's real secrets must not win over the fake URL
        return [
            sys.executable, "-m", "streamlit", "run", self.script,
            "--server.headless", "true", "--server.address", "127.0.0.1",
            "--server.port", str(port), "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--secrets.files", str(secrets),
        ]

    def start(self) -> AppServer:
        port = free_port()
        command = self.command(port)
        log_path = self.workdir / f"{self.server}-{port}.log"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        health = f"{self.url}/_stcore/health" if self.server == "streamlit" else f"{self.url}/"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not healthy(health):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.script} did not start:\n"
                                   f"{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of `values`; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median_ms(funcs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median wall time of each function in ms; one warm-up, then rounds that interleave them
    (so a slow spell of the machine falls on all of them alike)."""
    times: dict[str, list[float]] = {k: [] for k in funcs}
    for f in funcs.values():
        f()
    for _ in range(repeat):
        for k, f in funcs.items():
            t = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}
