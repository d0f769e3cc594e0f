"""Benchmark streaming to the screen in real Chromium; run as `python -m bench.streaming`.

For each reader of the same fake stream, the time from the request reaching the fake server to
the reply's last token being in the page (a MutationObserver stamps it with the browser's wall
clock, comparable with the server's `time.time()`), and, at a fixed pace, how far behind the
server each token becomes visible:

- raw client: the real `openai` client in its own process (the limit; no screen at all);
- NexusChat (`streamlit_app.py`);
- naive `st.write_stream` and naive per-token `placeholder.markdown` pages (bench/naive_apps/).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "PERFORMANCE.md"
SECTION = "## Streaming to the screen"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MODEL = "claude-sonnet-4-6"
PROMPT = "Tell me a long story."
REPEAT_BIG, REPEAT_PACED = 5, 3  # rounds; the median is reported
BIG_TOKENS = 8000  # workload (a): as fast as the server can
PACED_TOKENS, PACE_TPS = 2000, 200  # workload (b): a steady pace, for the visible lag
WARMUP_TOKENS = 1000
STARTUP_TIMEOUT_S = 60
PAGE_READY_TIMEOUT_S = 30
OURS_TIMEOUT_S = 60
NAIVE_TIMEOUT_S = 40  # per run; a naive page slower than this is reported as "> N s"
GOAL_RAW_RATIO = 2.0  # ours / raw client at unbounded speed, at most
GOAL_NAIVE_SPEEDUP = 5.0  # naive page / ours at unbounded speed, at least
GOAL_LAG_P95_MS = 150.0  # ours at 200 tokens/s, at most

APPS = {  # label -> (script, env var naming the API URL)
    "NexusChat": ("streamlit_app.py", "NEXUSCHAT_BASE_URL"),
    "naive st.write_stream": ("bench/naive_apps/write_stream_app.py", "BENCH_BASE_URL"),
    "naive per-token placeholder": ("bench/naive_apps/placeholder_app.py", "BENCH_BASE_URL"),
}
OURS = "NexusChat"
RAW = "raw openai client"

# Installed in the page before the prompt is sent: on every DOM change, the highest token index
# ("w<i>") at the end of a markdown block of the last chat message, and when it first showed.
OBSERVER_JS = r"""
(target) => {
  const rec = {obs: [], last: -1, doneAt: null};
  const tail = /w(\d+)\s*[\u258c\u2595]?\s*$/;
  const scan = () => {
    const msgs = document.querySelectorAll('[data-testid="stChatMessage"]');
    if (!msgs.length) return;
    let best = -1;
    for (const md of msgs[msgs.length - 1].querySelectorAll(
        '[data-testid="stMarkdownContainer"]')) {
      const m = tail.exec(md.textContent.slice(-32));
      if (m && +m[1] > best) best = +m[1];
    }
    if (best > rec.last) {
      const now = performance.timeOrigin + performance.now();
      rec.last = best;
      rec.obs.push([best, now]);
      if (best >= target && rec.doneAt === null) rec.doneAt = now;
    }
  };
  new MutationObserver(scan).observe(document.body,
    {subtree: true, childList: true, characterData: true});
  window.__bench = rec;
}
"""


# ---------------------------------------------------------------------------------------------
# the fake server, recording when each content chunk left it


def timed_fake_api():
    """A started FakeAPI whose handler also stamps (time.time()) each content chunk it sends."""
    from tests.fake_api.server import FakeAPI, _Handler

    class TimedHandler(_Handler):
        def _chat(self, body: dict) -> None:
            self._sent: list[float] = []
            self.fake.send_log.append(self._sent)
            super()._chat(body)

        def _send_event(self, obj) -> None:
            super()._send_event(obj)
            if isinstance(obj, dict) and any(
                (c.get("delta") or {}).get("content") for c in obj.get("choices") or ()
            ):
                self._sent.append(time.time())

    fake = FakeAPI().start()
    fake.send_log = []
    fake._server.RequestHandlerClass = TimedHandler  # read per connection, so this is enough
    return fake


def behaviour(tokens: int, tps: float | None) -> dict:
    return {"kind": "reply", "tokens": tokens, "tokens_per_second": tps}


def chat_received_at(fake) -> float:
    """When the (single) chat request of this run reached the server."""
    hits = [r["received_at"] for r in fake.requests
            if r["method"] == "POST" and r["path"] == "/v1/chat/completions"]
    if len(hits) != 1:
        raise RuntimeError(f"expected one chat request, saw {len(hits)}")
    return hits[0]


# ---------------------------------------------------------------------------------------------
# one run of one reader


@dataclass
class Run:
    """One reply read by one reader: seconds to the last token, per-token lags in ms."""

    seconds: float | None  # None: capped by the timeout
    lags_ms: list[float] = field(default_factory=list)
    skew_ms: float = 0.0  # the page's wall clock minus ours, already taken out of the above


def lags(sent: list[float], seen: list[tuple[int, float]]) -> list[float]:
    """Per token: first time (s) the reader had it or a later one, minus when it was sent."""
    indexes = [i for i, _ in seen]
    out = []
    for i, sent_at in enumerate(sent):
        k = bisect.bisect_left(indexes, i)
        if k < len(seen):
            out.append((seen[k][1] - sent_at) * 1000)
    return out


def raw_client_main(base_url: str, out_path: str) -> None:
    """In a child process: consume one stream with the real client, as our app's request."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=120)
    seen: list[tuple[int, float]] = []
    last = None
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPT}], stream=True,
        stream_options={"include_usage": True},
    )
    index = -1
    for chunk in stream:
        last = time.time()
        if chunk.choices and chunk.choices[0].delta.content:
            index += 1
            seen.append((index, last))
    Path(out_path).write_text(json.dumps({"last": last, "seen": seen}))


def run_raw(fake, tokens: int, tps: float | None) -> Run:
    fake.reset()
    fake.send_log.clear()
    fake.script(behaviour(tokens, tps))
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, "-m", "bench.streaming", "--raw-client", fake.base_url, out.name],
            cwd=ROOT, env=clean_env(), check=True, timeout=OURS_TIMEOUT_S + 30,
        )
        result = json.loads(Path(out.name).read_text())
    received = chat_received_at(fake)
    seen = [(i, t) for i, t in result["seen"]]  # JSON gives lists
    if len(seen) != tokens:
        raise RuntimeError(f"raw client saw {len(seen)} of {tokens} tokens")
    return Run(result["last"] - received, lags(fake.send_log[-1], seen))


def run_page(browser, url: str, fake, tokens: int, tps: float | None, timeout_s: float) -> Run:
    """A fresh browser context (a new Streamlit session): send the prompt, wait for the end."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    fake.reset()
    fake.send_log.clear()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(PAGE_READY_TIMEOUT_S * 1000)
        page.goto(url, wait_until="domcontentloaded")
        box = page.get_by_test_id("stChatInputTextArea")
        box.wait_for(state="visible")
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
        page.evaluate(OBSERVER_JS, tokens - 1)
        skew = clock_skew(page)
        fake.script(behaviour(tokens, tps))
        box.fill(PROMPT)
        box.press("Enter")
        try:
            page.wait_for_function("window.__bench.doneAt !== null", polling=100,
                                   timeout=timeout_s * 1000)
        except PlaywrightTimeout:
            return Run(None)
        record = page.evaluate("window.__bench")
    finally:
        context.close()
    received = chat_received_at(fake)
    seen = [(i, t / 1000 - skew) for i, t in record["obs"]]
    return Run(record["doneAt"] / 1000 - skew - received, lags(fake.send_log[-1], seen),
               skew * 1000)


def clock_skew(page, tries: int = 5) -> float:
    """The page's `performance.timeOrigin + now()` minus `time.time()`, in s (least RTT)."""
    best = (float("inf"), 0.0)
    for _ in range(tries):
        before = time.time()
        page_now = page.evaluate("performance.timeOrigin + performance.now()") / 1000
        after = time.time()
        best = min(best, (after - before, page_now - (before + after) / 2))
    return best[1]


# ---------------------------------------------------------------------------------------------
# processes


def clean_env() -> dict[str, str]:
    """This environment minus provider settings; loopback never through a proxy."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEXUSCHAT_", "BENCH_")) and k != "OPENAI_API_KEY"}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class StreamlitApp:
    """`streamlit run script` on a free loopback port, talking to the fake API; restartable."""

    def __init__(self, script: str, url_var: str, api_url: str, workdir: Path) -> None:
        self.script, self.workdir = script, workdir
        self.env = clean_env() | {url_var: api_url, "NEXUSCHAT_API_KEY": "sk-bench-not-a-key"}
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> StreamlitApp:
        secrets = self.workdir / "secrets.toml"
        secrets.write_text("")  # a developer's real secrets must not win over the fake URL
        port = free_port()
        command = [
            sys.executable, "-m", "streamlit", "run", self.script,
            "--server.headless", "true", "--server.address", "127.0.0.1",
            "--server.port", str(port), "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--secrets.files", str(secrets),
        ]
        log_path = self.workdir / f"streamlit-{port}.log"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not healthy(f"{self.url}/_stcore/health"):
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


# ---------------------------------------------------------------------------------------------
# measuring and reporting


@dataclass
class Result:
    """Median over the repetitions of one reader and one workload."""

    runs: list[Run]
    cap_s: float | None = None

    @property
    def capped(self) -> bool:
        return any(r.seconds is None for r in self.runs)

    @property
    def seconds(self) -> float | None:
        if self.capped:
            return None
        return statistics.median(r.seconds for r in self.runs)

    def lag(self, q: float | None) -> float | None:
        """Median over runs of the q-th percentile lag in ms (q None: the last token's lag)."""
        if self.capped or not self.runs[0].lags_ms:
            return None
        return statistics.median(r.lags_ms[-1] if q is None else percentile(r.lags_ms, q)
                                 for r in self.runs)

    def text(self) -> str:
        return f"> {self.cap_s:.0f}" if self.capped else f"{self.seconds:.2f}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Reader:
    """One way of reading the stream: the raw client, or a page in a fresh browser context."""

    fake: object
    browser: object = None
    app: StreamlitApp | None = None
    cap_s: float | None = None

    def read(self, tokens: int, tps: float | None) -> Run:
        if self.app is None:
            return run_raw(self.fake, tokens, tps)
        return run_page(self.browser, self.app.url, self.fake, tokens, tps, self.cap_s)

    def warm_up(self) -> None:
        self.read(WARMUP_TOKENS, None)

    def restart(self) -> None:
        if self.app is not None:
            self.app.stop()
            self.app.start()
            self.warm_up()


def describe(run: Run) -> str:
    shown = "timeout" if run.seconds is None else f"{run.seconds:.2f} s"
    if run.lags_ms:
        shown += (f", lag p50 {percentile(run.lags_ms, 50):.0f} ms"
                  f" p95 {percentile(run.lags_ms, 95):.0f} ms last {run.lags_ms[-1]:.0f} ms")
    if run.skew_ms:
        shown += f" (page clock {run.skew_ms:+.1f} ms)"
    return shown


def rounds(readers: dict[str, Reader], tokens: int, tps: float | None,
           repeat: int) -> dict[str, Result]:
    """`repeat` rounds, each running every reader once in turn, so drifts hit all alike.

    A reader cut by its timeout is not run again (it is too slow to be worth repeating), and its
    server is restarted and warmed up: its script is still streaming into a closed session.
    """
    runs: dict[str, list[Run]] = {label: [] for label in readers}
    for n in range(repeat):
        for label, reader in readers.items():
            if any(r.seconds is None for r in runs[label]):
                continue
            run = reader.read(tokens, tps)
            runs[label].append(run)
            print(f"  {label}, {tokens:,} tokens at {tps or 'full speed'}, #{n + 1}: "
                  f"{describe(run)}", flush=True)
            if run.seconds is None:
                reader.restart()
    return {label: Result(runs[label], readers[label].cap_s) for label in readers}


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found[1].strip() if found else cpu
    return f"`nproc` {len(os.sched_getaffinity(0))}, {cpu}"


def write_section(text: str) -> None:
    """Replace (or add) this benchmark's section of docs/PERFORMANCE.md, leaving others alone."""
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    text = text.rstrip("\n") + "\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text, doc, count=1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    # keep a blank line above our heading, whatever the section before it ends with
    doc = re.sub(rf"(?<=[^\n])\n(?={re.escape(SECTION)}\n)", "\n\n", doc)
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(doc.rstrip("\n") + "\n")


def fmt(value: float | None, spec: str = ".0f", capped: str = "—") -> str:
    return capped if value is None else format(value, spec)


def report(big: dict[str, Result], paced: dict[str, Result]) -> tuple[list[str], list[str], bool]:
    """The table, the goal lines, and whether every goal for ours is met."""
    raw_s, ours_s = big[RAW].seconds, big[OURS].seconds
    table = [
        f"| reader | {BIG_TOKENS:,} tokens unbounded: s | × raw | naive / ours "
        f"| {PACED_TOKENS:,} tokens at {PACE_TPS}/s: lag p50 ms | lag p95 ms "
        "| last token's lag ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in (RAW, *APPS):
        b, p = big[label], paced[label]
        ratio = "—" if b.seconds is None or raw_s is None else f"{b.seconds / raw_s:.2f}"
        if b.capped and raw_s:
            ratio = f"> {b.cap_s / raw_s:.0f}"
        speedup = "—"
        if label not in (RAW, OURS) and ours_s:
            speedup = (f"> {b.cap_s / ours_s:.2f}" if b.capped
                       else f"{b.seconds / ours_s:.2f}")
        cut = f"> {p.cap_s:.0f} s" if p.capped else "—"
        table.append(
            f"| {label} | {b.text()} | {ratio} | {speedup} | {fmt(p.lag(50), capped=cut)} "
            f"| {fmt(p.lag(95), capped=cut)} | {fmt(p.lag(None), capped=cut)} |"
        )

    goals = []
    ok = True

    def goal(met: bool, text: str) -> None:
        nonlocal ok
        ok = ok and met
        goals.append(f"{'PASS' if met else 'FAIL'}: {text}")

    ratio = None if ours_s is None or raw_s is None else ours_s / raw_s
    goal(ratio is not None and ratio <= GOAL_RAW_RATIO,
         f"ours ≤ {GOAL_RAW_RATIO:g}× raw client at unbounded speed ({fmt(ratio, '.2f')}×)")
    for label in APPS:
        if label == OURS:
            continue
        b = big[label]
        bound = b.cap_s if b.capped else b.seconds
        speedup = None if ours_s is None or bound is None else bound / ours_s
        shown = ("> " if b.capped else "") + fmt(speedup, ".2f")
        goal(speedup is not None and speedup >= GOAL_NAIVE_SPEEDUP,
             f"ours ≥ {GOAL_NAIVE_SPEEDUP:g}× faster than {label}, unbounded ({shown}×)")
    p95 = paced[OURS].lag(95)
    goal(p95 is not None and p95 <= GOAL_LAG_P95_MS,
         f"ours lag p95 ≤ {GOAL_LAG_P95_MS:g} ms at {PACE_TPS} tokens/s ({fmt(p95)} ms)")
    return table, goals, ok


def main() -> int:
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    fake = timed_fake_api()
    apps: list[StreamlitApp] = []
    try:
        with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="nexuschat-bench-") as tmp:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
            try:
                readers = {RAW: Reader(fake)}
                for label, (script, url_var) in APPS.items():
                    apps.append(StreamlitApp(script, url_var, fake.base_url, Path(tmp)).start())
                    readers[label] = Reader(fake, browser, apps[-1],
                                            OURS_TIMEOUT_S if label == OURS else NAIVE_TIMEOUT_S)
                print("warming up: one short reply per reader", flush=True)
                for reader in readers.values():
                    reader.warm_up()
                big = rounds(readers, BIG_TOKENS, None, REPEAT_BIG)
                paced = rounds(readers, PACED_TOKENS, PACE_TPS, REPEAT_PACED)
            finally:
                browser.close()
                for app in apps:
                    app.stop()
    finally:
        fake.stop()

    table, goals, ok = report(big, paced)
    print()
    print("\n".join(table))
    print()
    print("\n".join(goals))
    print(f"\n(total {time.monotonic() - started:.0f} s)")

    import openai
    import streamlit

    verdict = "all met" if ok else "NOT all met"
    skew = max(abs(r.skew_ms) for res in (*big.values(), *paced.values()) for r in res.runs)
    write_section("\n".join([
        SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}, Python "
        f"{platform.python_version()}, Streamlit {streamlit.__version__}, openai "
        f"{openai.__version__}, headless Debian Chromium driven by Playwright. Median of "
        f"{REPEAT_BIG} runs unbounded and {REPEAT_PACED} paced, in rounds that take every reader "
        "in turn, after a warm-up per reader; every page run is a fresh browser context (a "
        "fresh session). Fake API on loopback (`tests/fake_api`), 1 word per chunk.",
        "",
        "Seconds run from the chat request reaching the fake server to the last token being in "
        "the page's DOM (a MutationObserver stamps `performance.timeOrigin + performance.now()`, "
        "the same wall clock as the server's `time.time()`; paint follows within a frame); for "
        "the raw client, to its last chunk "
        "consumed (own process, no screen: the limit). Lag: for every token, when it (or a later "
        "one) first appeared in the page minus when the server flushed it (stamped server-side); "
        f"p50/p95 over the {PACED_TOKENS:,} tokens, median over runs. The page clock's offset "
        f"from the server's is measured each run (at most {skew:.1f} ms here) and taken out. "
        "Naive pages are "
        "`bench/naive_apps/` (the tutorial `st.write_stream`, and `placeholder.markdown` per "
        f"token); a run slower than {NAIVE_TIMEOUT_S} s is cut and shown as \"> N\".",
        "",
        *table,
        "",
        *[f"- {g}" for g in goals],
        "",
        "NexusChat repaints on an 80 ms clock (`components/live_reply.py`), so at a steady pace "
        "its lag is about half that interval plus the render; the naive pages repaint per token, "
        "which keeps up at 200 tokens/s but costs work growing with the square of the reply "
        "(every token re-sends and re-renders the whole text), hence their unbounded times.",
        "",
        f"Goals for NexusChat: **{verdict}**.",
        "",
        "Reproduce: `.venv/bin/python -m bench.streaming` (from the repository root; about "
        "4 minutes; it rewrites this section).",
    ]) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.streaming")
    parser.add_argument("--raw-client", nargs=2, metavar=("BASE_URL", "OUT_JSON"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_client:
        raw_client_main(*args.raw_client)
        sys.exit(0)
    sys.exit(main())
