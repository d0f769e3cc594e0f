"""Several `streamlit run streamlit_app.py` replicas on one PostgreSQL, behind HAProxy.

Processes, not containers, so that it runs wherever the tests run: N replicas (default 3) on
free loopback ports, all with the same `NEXUSCHAT_DATABASE_URL` (PostgreSQL) and the same
cookie secret (`NEXUSCHAT_COOKIE_SECRET` signs the visitor cookie, `server.cookieSecret`
Streamlit's own signed cookies: a visitor whose cookie replica A signed is the same owner on
replica B), each with a data dir of its own (nothing is shared through the disk), and HAProxy
in front on one port with sticky sessions (deploy/haproxy-replicas.cfg, filled in here).

- By hand: `scripts/replicas` (this module's `main`) prints the URL and the stats page; Ctrl-C
  stops everything. `--fake-api` answers from testbed/fake_api instead of a real provider.
- From tests and benchmarks: `Replicas` is a context manager; `replica_serving(cookies)`
  says which replica a browser is pinned to, `proxy.log_lines()` what HAProxy sent where,
  `proxy.states()` which replicas it considers up.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from nexuschat.machine import free_port
from testbed.app_server import ROOT, LoggedProcess, StreamlitServer, app_env, health_ok

TEMPLATE = ROOT / "deploy" / "haproxy-replicas.cfg"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
COOKIE = "nexuschat_replica"  # HAProxy's stickiness cookie: the replica's name
BACKEND = "replicas"
DEFAULT_COUNT = 3
STARTUP_TIMEOUT_S = 60.0
STREAMLIT_SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"  # server.cookieSecret, off the argv


def is_postgresql(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in ("postgres", "postgresql")


def haproxy_missing() -> str | None:
    """Why HAProxy cannot be run here, or None."""
    if not os.access(HAPROXY, os.X_OK):
        return f"{HAPROXY} is missing: install Debian's haproxy package"
    return None


# ---------------------------------------------------------------------------------------------
# one replica


class Replica(StreamlitServer):
    """One `streamlit run` of the app as a replica: the environment is given whole (the fake
    API's for tests, the caller's own by hand), plus what replicas share."""

    def __init__(self, name: str, workdir: Path, env: Mapping[str, str], secrets_text: str = ""):
        super().__init__("", workdir, workdir / f"data-{name}", name=name, secrets=secrets_text)
        self.name = name
        self.env = dict(env)

    def environment(self) -> dict[str, str]:
        return self.env | {"NEXUSCHAT_DATA_DIR": str(self.data_dir)}

    def spawn(self, port: int = 0) -> None:
        """Start the process without waiting for it (`wait_healthy` does)."""
        self.port = port or free_port()
        command = self.command()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.environment(), stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_healthy(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not health_ok(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                state = (f"exited with {self.process.returncode}"
                         if self.process.poll() is not None else f"not healthy in {timeout_s} s")
                self.stop()
                raise RuntimeError(f"replica {self.name} {state}:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def start(self, port: int = 0) -> Replica:
        self.spawn(port)
        self.wait_healthy()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


# ---------------------------------------------------------------------------------------------
# HAProxy


@dataclass(frozen=True)
class LogLine:
    """One request as HAProxy logged it (deploy/haproxy-replicas.cfg's log-format)."""

    client: str
    backend: str
    server: str  # the replica's name; "<NOSRV>" when none was chosen
    status: int
    method: str
    path: str
    flags: str  # %tsc: termination state, then the persistence cookie's (request, response)
    user_agent: str

    @property
    def websocket(self) -> bool:
        return self.path.endswith("/_stcore/stream")


_LOG_RE = re.compile(r"^(\S+) ([^/\s]+)/(\S+) (-?\d+) (\S+) (\S+) (\S{4}) \{(.*)\}\s*$")


def parse_log(text: str) -> list[LogLine]:
    """The request lines of HAProxy's output (its own notices are skipped)."""
    out = []
    for line in text.splitlines():
        if match := _LOG_RE.match(line):
            client, backend, server, status, method, path, flags, agent = match.groups()
            out.append(LogLine(client, backend, server, int(status), method, path, flags, agent))
    return out


class Proxy(LoggedProcess):
    """HAProxy in the foreground (`-db`) on a free loopback port, in front of `replicas`."""

    def __init__(self, workdir: Path, replicas: list[Replica], port: int = 0):
        self.workdir = workdir
        self.replicas = replicas
        self.wanted_port = port
        self.log_path = workdir / "haproxy.log"
        self.config_path = workdir / "haproxy.cfg"
        self.socket_path = workdir / "haproxy.sock"
        self.stats_port = 0

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.stats_port}/"

    def config(self) -> str:
        """The template with this run's addresses and one `server` line per replica."""
        servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} cookie {r.name}"
                            for r in self.replicas)
        return string.Template(TEMPLATE.read_text()).substitute(
            bind=f"127.0.0.1:{self.port}", stats_bind=f"127.0.0.1:{self.stats_port}",
            stats_socket=str(self.socket_path), cookie=COOKIE, servers=servers)

    def start(self) -> Proxy:
        if reason := haproxy_missing():
            raise RuntimeError(reason)
        self.port = self.wanted_port or free_port()
        self.stats_port = free_port()
        self.config_path.write_text(self.config())
        check = subprocess.run([HAPROXY, "-c", "-f", str(self.config_path)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"HAProxy refuses {self.config_path}:\n{check.stdout}"
                               f"{check.stderr}")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.config_path)], cwd=self.workdir, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_for(lambda states: all(states.get(r.name) == "UP" for r in self.replicas
                                         if r.alive), "every replica up")
        return self

    def wait_for(self, done, what: str, timeout_s: float = 30.0) -> dict[str, str]:
        """Until `done(states())`; RuntimeError with the log if HAProxy exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"HAProxy exited with {self.process.returncode}:\n"
                                   f"{self.log()[-3000:]}")
            states = self.states() if self.socket_path.exists() else {}
            if states and done(states):
                return states
            if time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy: not {what} within {timeout_s} s: {states}")
            time.sleep(0.1)

    def command(self, line: str) -> str:
        """One command on HAProxy's stats socket (`show stat`, ...); its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def stats(self) -> list[dict[str, str]]:
        """`show stat` as rows (pxname, svname, status, scur, stot, ...)."""
        text = self.command("show stat").lstrip("# ")
        return list(csv.DictReader(line for line in text.splitlines() if line.strip()))

    def states(self) -> dict[str, str]:
        """Each replica's status as HAProxy sees it ("UP", "DOWN", "UP 1/2", ...)."""
        return {row["svname"]: row["status"] for row in self.stats()
                if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")}

    def log_lines(self) -> list[LogLine]:
        return parse_log(self.log())


# ---------------------------------------------------------------------------------------------
# all of it


class Replicas:
    """N replicas and HAProxy in front of them; a context manager (stops everything)."""

    def __init__(self, workdir: Path, database_url: str, env: Mapping[str, str], *,
                 count: int = DEFAULT_COUNT, cookie_secret: str | None = None, port: int = 0,
                 secrets_text: str = ""):
        """`env`: each replica's environment (the fake API's, or the caller's own);
        `cookie_secret`: shared by all (None: a random one for this run)."""
        if not is_postgresql(database_url):
            raise ValueError("replicas share one PostgreSQL database: NEXUSCHAT_DATABASE_URL "
                             "must be a postgresql:// URL")
        self.workdir = workdir
        secret = cookie_secret or secrets.token_urlsafe(32)
        shared = {"NEXUSCHAT_DATABASE_URL": database_url, "NEXUSCHAT_COOKIE_SECRET": secret,
                  STREAMLIT_SECRET_ENV: secret}
        self.replicas = [Replica(f"r{i}", workdir, dict(env) | shared, secrets_text)
                         for i in range(1, count + 1)]
        self.proxy = Proxy(workdir, self.replicas, port)

    @property
    def url(self) -> str:
        """The one address browsers use: HAProxy's."""
        return self.proxy.url

    def replica(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)

    def replica_serving(self, cookies: Iterable[Mapping[str, str]]) -> Replica | None:
        """The replica a browser is pinned to, from its cookies (Playwright's shape:
        dicts with "name" and "value")."""
        names = [c["value"] for c in cookies if c.get("name") == COOKIE]
        return self.replica(names[-1]) if names else None

    def start(self) -> Replicas:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            for replica in self.replicas:  # all at once: each takes seconds to import
                replica.spawn()
            with ThreadPoolExecutor(len(self.replicas)) as pool:
                list(pool.map(lambda r: r.wait_healthy(), self.replicas))
            self.proxy.start()
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, replica: Replica) -> None:
        """SIGKILL one replica (a crash) and wait until HAProxy has taken it out."""
        replica.kill()
        self.proxy.wait_for(lambda states: not states[replica.name].startswith("UP"),
                            f"{replica.name} down")

    def stop(self) -> None:
        self.proxy.stop()
        for replica in self.replicas:
            replica.stop()

    def leaked(self, key: str) -> list[Path]:
        """The logs in which `key` appears."""
        return [r.log_path for r in self.replicas if key in r.log()]

    def __enter__(self) -> Replicas:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def hosted_env(api_url: str, workdir: Path) -> dict[str, str]:
    """The fake API's environment in hosted mode (every browser its own owner), as tests and
    benchmarks run the replicas."""
    return app_env(api_url, workdir) | {"NEXUSCHAT_MODE": "hosted"}


# ---------------------------------------------------------------------------------------------
# by hand: scripts/replicas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/replicas",
        description="Run N replicas of the app on one PostgreSQL behind HAProxy (loopback).")
    parser.add_argument("-n", "--replicas", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--port", type=int, default=0, help="HAProxy's port (0: a free one)")
    parser.add_argument("--database-url", default=os.environ.get("NEXUSCHAT_DATABASE_URL", ""),
                        help="PostgreSQL URL (default: $NEXUSCHAT_DATABASE_URL; "
                             "scripts/start-postgres starts one)")
    parser.add_argument("--fake-api", action="store_true",
                        help="answer from the fake API (testbed/fake_api) in hosted mode "
                             "instead of your provider settings")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="logs, the HAProxy config and each replica's data dir "
                             "(default: a temporary folder, removed at the end)")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("no database: pass --database-url or set NEXUSCHAT_DATABASE_URL "
                     "(scripts/start-postgres prints a test URL)")
    if not is_postgresql(args.database_url):
        parser.error("the replicas share one PostgreSQL: --database-url must be postgresql://")
    if reason := haproxy_missing():
        parser.error(reason)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="nexuschat-replicas-")))
        workdir.mkdir(parents=True, exist_ok=True)
        if args.fake_api:
            from testbed.fake_api import FakeAPI

            fake = stack.enter_context(FakeAPI())
            env = hosted_env(fake.base_url, workdir)
            secrets_text = ""
        else:
            env = dict(os.environ)
            env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
            own = ROOT / ".streamlit" / "secrets.toml"
            secrets_text = own.read_text() if own.exists() else ""
        print(f"Starting {args.replicas} replicas and HAProxy (logs in {workdir})...",
              flush=True)
        replicas = stack.enter_context(Replicas(
            workdir, args.database_url, env, count=args.replicas, port=args.port,
            cookie_secret=env.get("NEXUSCHAT_COOKIE_SECRET") or None,
            secrets_text=secrets_text))
        for replica in replicas.replicas:
            print(f"  {replica.name}: {replica.url} (pid {replica.pid})", flush=True)
        print(f"  HAProxy stats: {replicas.proxy.stats_url}", flush=True)
        print(f"\nNexusChat: {replicas.url}   (Ctrl-C stops everything)", flush=True)
        reported: set[str] = set()
        while not stop.wait(1.0):
            gone = [r.name for r in replicas.replicas if not r.alive and r.name not in reported]
            if gone:
                print(f"replica(s) {', '.join(gone)} exited; HAProxy sends their sessions "
                      "to the others", flush=True)
                reported.update(gone)
            if replicas.proxy.process.poll() is not None:
                print("HAProxy exited: stopping", file=sys.stderr)
                return 1
        print("Stopping...", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
