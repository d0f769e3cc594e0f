"""Benchmark a long reasoning phase against a plain answer; run as `python -m bench.reasoning`.

One turn of the real app (`router.py` in AppTest, the real client and stream reader against the
fake API over loopback, in a process of its own) per reply, each in a fresh session, in rounds
that take every workload in turn. The same number of tokens is sent as a plain answer (the
baseline) and as reasoning followed by an answer; at a steady pace, so the number of repaints
is set by the 40 ms clock, and unbounded. Measured on the script thread, where repaints happen:

- repaints: the streaming bubble's updates (each sends its deltas to the browser);
- characters sanitized and sent: the text the repaints hand to `page_markdown`, what grows
  with the square of a reply when a design resends everything on every repaint;
- repaint ms: the script thread's time in the repaints (`components.live_reply._Painter.paint`:
  joining the text, sanitizing it, building and queueing Streamlit's deltas);
- the turn's wall time.

The reasoning reply's thinking repaints while it streams, is drawn once more collapsed when
the answer starts, and is then left alone. "Resending the thinking" is what the same run would
have cost had every answer repaint sent the thinking again (computed from the run: its answer
repaints times the thinking's length, added), the design this avoids. `--no-write` leaves
docs/PERFORMANCE.md alone.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import DOC, machine, repaint_interval_s, write_section
from bench.history import clean_environment

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Reasoning replies"
KEY = "sk-bench-reasoning-00000000"
REPEAT = 5  # rounds; medians reported
PACE_TPS = 2000  # steady workloads: tokens per second, one word per chunk
PACED_TOKENS = 3000  # thinking, then as many answer tokens (or all answer, as the baseline)
FAST_TOKENS = 8000  # unbounded workloads, the same split
GOAL_RATIO = 1.10  # the reasoning reply may cost at most this × the plain answer of as many tokens


@dataclass(frozen=True)
class Workload:
    """One reply: how many thinking and answer tokens, at what pace (None: unbounded)."""

    label: str
    thinking: int
    answer: int
    tps: float | None

    def behaviour(self) -> dict:
        """The fake API's script for it."""
        return {"kind": "reply", "tokens": self.answer, "tokens_per_second": self.tps,
                **({"reasoning_tokens": self.thinking} if self.thinking else {})}


@dataclass
class Turn:
    """What one turn cost on the script thread."""

    wall_s: float = 0.0
    repaint_s: float = 0.0
    chars: int = 0
    repaints: int = 0
    answer_repaints: int = 0
    thinking_chars: int = 0


@dataclass
class Probe:
    """Times the streaming bubble's repaints (`_Painter.paint`) and counts the text they hand
    to the sanitizer."""

    turn: Turn = field(default_factory=Turn)
    inside: bool = False
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def install(self) -> None:
        """Wrap in place (a method, and module attributes looked up at call time)."""
        import components.live_reply as live_reply
        import components.messages as messages

        def sanitizer(original):
            def wrapped(text, *args, **kwargs):
                if self.inside:
                    self.turn.chars += len(text)
                return original(text, *args, **kwargs)
            return wrapped

        def paint(original):
            def wrapped(painter, reply):
                self.inside = True
                t = time.perf_counter()
                try:
                    changed = original(painter, reply)
                finally:
                    self.turn.repaint_s += time.perf_counter() - t
                    self.inside = False
                if changed:
                    self.turn.repaints += 1
                    self.turn.answer_repaints += reply.answering
                return changed
            return wrapped

        for module in (live_reply, messages):
            original = module.page_markdown
            module.page_markdown = sanitizer(original)
            self._undo.append(lambda m=module, o=original: setattr(m, "page_markdown", o))
        original = live_reply._Painter.paint
        live_reply._Painter.paint = paint(original)
        self._undo.append(lambda o=original: setattr(live_reply._Painter, "paint", o))

    def uninstall(self) -> None:
        """Put everything back."""
        while self._undo:
            self._undo.pop()()


def one_turn(workload: Workload, fake, secrets: dict, probe: Probe) -> Turn:
    """A fresh session sends one question; the turn's costs."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "router.py"), default_timeout=120)
    for name, value in secrets.items():
        at.secrets[name] = value
    at.run()
    fake.script(workload.behaviour())
    probe.turn = Turn(thinking_chars=len("".join(f"r{i} " for i in range(workload.thinking))))
    t = time.perf_counter()
    at.chat_input[0].set_value(f"tell me ({workload.label})").run()
    probe.turn.wall_s = time.perf_counter() - t
    if at.exception or at.error:
        raise RuntimeError(f"{workload.label}: {(at.exception or at.error)[0]}")
    expanders = [e for e in at.expander if e.label.startswith("Thought for")]
    if bool(expanders) != bool(workload.thinking):
        raise RuntimeError(f"{workload.label}: the thinking was not drawn as expected")
    return probe.turn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help="rounds (median reported)")
    parser.add_argument("--no-write", action="store_true", help="leave docs/PERFORMANCE.md alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nexuschat-bench-reasoning-") as tmp:
        clean_environment(Path(tmp) / "data")
        with fake_api_process() as fake:
            return measure(Path(tmp), fake, max(1, args.repeat), args.no_write)


@contextlib.contextmanager
def fake_api_process() -> Iterator:
    """The fake API in a process of its own (its pacing does not compete for this GIL),
    driven through its control endpoints."""
    from testbed.fake_api import FakeAPIControl

    process = subprocess.Popen([sys.executable, "-m", "testbed.fake_api"], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("FAKE_API_URL="):
            raise RuntimeError(f"the fake API did not start: {line!r}")
        url = line.split("=", 1)[1].strip()
        control = FakeAPIControl(url)
        control.base_url = url  # what the app's secrets point at
        yield control
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure(tmp: Path, fake, repeat: int, no_write: bool) -> int:
    import streamlit as st

    load = os.getloadavg()[0]
    secrets = {"NEXUSCHAT_API_KEY": KEY, "NEXUSCHAT_BASE_URL": fake.base_url,
               "NEXUSCHAT_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
               "NEXUSCHAT_MODE": "local", "NEXUSCHAT_PROVIDER": "api",
               "NEXUSCHAT_READ_TIMEOUT": "60"}
    n, big = PACED_TOKENS, FAST_TOKENS
    groups = {
        f"{PACE_TPS:,} tokens/s": [
            Workload(f"answer {n:,}", 0, n, PACE_TPS),
            Workload(f"answer {2 * n:,} (baseline)", 0, 2 * n, PACE_TPS),
            Workload(f"thinking {n:,} + answer {n:,}", n, n, PACE_TPS),
        ],
        "unbounded": [
            Workload(f"answer {2 * big:,} (baseline)", 0, 2 * big, None),
            Workload(f"thinking {big:,} + answer {big:,}", big, big, None),
        ],
    }
    workloads = [w for ws in groups.values() for w in ws]
    st.cache_data.clear()
    probe = Probe()
    probe.install()
    results: dict[str, list[Turn]] = {w.label: [] for w in workloads}
    try:
        one_turn(Workload("warm-up", 50, 50, None), fake, secrets, probe)
        for round_ in range(repeat):
            for w in workloads:
                results[w.label].append(one_turn(w, fake, secrets, probe))
            print(f"  round {round_ + 1}/{repeat} done", flush=True)
    finally:
        probe.uninstall()
    load = max(load, os.getloadavg()[0])
    med = {label: median_turn(turns) for label, turns in results.items()}
    table, verdicts = report_tables(groups, med)
    folds = reducer_us()
    base_us = next(iter(folds.values()))
    table += ["", "| `ReplyAccumulator.add` alone, 8,000 chunks | µs per chunk | × baseline |",
              "| --- | ---: | ---: |",
              *(f"| {label} | {us:.2f} | {us / base_us:.2f} |" for label, us in folds.items())]
    print("\n".join(table))
    print("\n".join(verdicts))
    ok = all(v.startswith("- PASS") for v in verdicts)
    if not no_write:
        write_section(SECTION, report(table, verdicts, ok, load, repeat))
        print(f"wrote the {SECTION!r} section of {DOC}")
    return 0 if ok else 1


def reducer_us() -> dict[str, float]:
    """`ReplyAccumulator.add` alone, µs per chunk (median of interleaved runs): answer chunks
    (the baseline), reasoning chunks, and Mistral-style thinking parts."""
    from nexuschat.streaming import ReplyAccumulator

    def chunk(delta: dict) -> dict:
        return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}

    streams = {
        "answer (`content`), the baseline": [chunk({"content": f"w{i} "}) for i in range(8000)],
        "reasoning (`reasoning_content`)": [
            chunk({"content": None, "reasoning_content": f"r{i} "}) for i in range(8000)],
        "thinking parts (Mistral)": [
            chunk({"content": [{"type": "thinking", "thinking": [
                {"type": "text", "text": f"r{i} "}]}]}) for i in range(8000)],
    }
    times: dict[str, list[float]] = {k: [] for k in streams}
    for _ in range(15):
        for label, chunks in streams.items():
            acc = ReplyAccumulator()
            t = time.perf_counter()
            for c in chunks:
                acc.add(c)
            times[label].append((time.perf_counter() - t) * 1e6 / len(chunks))
    return {k: statistics.median(v) for k, v in times.items()}


def median_turn(turns: list[Turn]) -> Turn:
    """Each field's median over the rounds."""
    return Turn(**{name: statistics.median(getattr(t, name) for t in turns)
                   for name in Turn.__dataclass_fields__})


def report_tables(groups: dict[str, list[Workload]],
                  med: dict[str, Turn]) -> tuple[list[str], list[str]]:
    """The markdown table and the goal lines."""
    table = [
        "| pace asked | reply | tokens/s arrived | repaints | characters sanitized and sent "
        "| × baseline | repaint ms | ms per repaint | × baseline | turn s | × baseline |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    verdicts = []
    for pace, workloads in groups.items():
        base = med[next(w.label for w in workloads if "baseline" in w.label)]
        for w in workloads:
            m = med[w.label]
            rate = (w.thinking + w.answer) / m.wall_s
            per = per_repaint_ms(m)
            table.append(
                f"| {pace} | {w.label} | {rate:,.0f} | {m.repaints:.0f} | {m.chars:,.0f} | "
                f"{m.chars / base.chars:.2f} | {m.repaint_s * 1000:.0f} | {per:.2f} | "
                f"{per / per_repaint_ms(base):.2f} | {m.wall_s:.2f} | "
                f"{m.wall_s / base.wall_s:.2f} |")
            if w.thinking:
                resent = m.chars + m.answer_repaints * m.thinking_chars
                table.append(
                    f"| {pace} | … had every answer repaint resent the thinking (computed) | "
                    f"— | {m.repaints:.0f} | {resent:,.0f} | {resent / base.chars:.2f} | — | — "
                    "| — | — | — |")
                for what, ratio in (("characters", m.chars / base.chars),
                                    ("ms per repaint", per / per_repaint_ms(base))):
                    verdict = "PASS" if ratio <= GOAL_RATIO else "FAIL"
                    verdicts.append(
                        f"- {verdict}: {pace}, thinking + answer ≤ {GOAL_RATIO:.2f}× a plain "
                        f"answer of as many tokens in {what} ({ratio:.2f}×)")
    return table, verdicts


def per_repaint_ms(turn: Turn) -> float:
    """The script thread's time per repaint, ms."""
    return turn.repaint_s * 1000 / max(1, turn.repaints)


def report(table: list[str], verdicts: list[str], ok: bool, load: float, repeat: int) -> str:
    """The docs section: conditions, the table, the goals and how to reproduce."""
    import streamlit

    interval_ms = repaint_interval_s() * 1000
    return "\n".join([
        SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}, Python "
        f"{platform.python_version()}, Streamlit {streamlit.__version__}; 1-minute load "
        f"average up to {load:.1f} during the run. Each reply is one turn of the real app "
        "(`router.py` in AppTest, a fresh session per turn; the real client and stream reader "
        "against `testbed/fake_api` on loopback, one word per chunk), medians of "
        f"{repeat} rounds that take every reply in turn, after a warm-up. A reasoning reply "
        "sends its thinking (`reasoning_content`) and then its answer; the baseline is a "
        "plain answer of as many tokens, in the same run. Repaints are the streaming bubble's "
        f"updates (at most one per {interval_ms:.0f} ms); characters are the text those repaints "
        "hand to `page_markdown` (sanitized, then sent to the browser: what grows with the "
        "square of a reply when everything is resent on every repaint); repaint ms is the "
        "script thread's time in the repaints (`_Painter.paint` in `components/live_reply.py`: "
        "joining, sanitizing, building and queueing the deltas), in all and per repaint (how "
        "many repaints a turn gets is set by the clock and how long the model takes, so the "
        "goal is on the work per repaint); turn s is the whole run of "
        "the page; tokens/s arrived is the reply's tokens over it (the fake API, in a process "
        "of its own, sleeps between chunks, so a steady pace comes out below the one asked).",
        "",
        *table,
        "",
        *verdicts,
        "",
        "The thinking repaints while it streams, on the same clock as the answer; when the "
        "answer starts it is drawn once more, collapsed, and then not again, so each answer "
        "repaint sends the answer alone. A reply of thinking and answer therefore costs what "
        "a plain answer of its answer's length costs, plus the thinking phase, which costs "
        "what an answer of that length would: never more than the plain answer of as many "
        "tokens (its later repaints are shorter). The computed row is the design this "
        "avoids: every answer repaint resending the thinking above it. The reducer (on the "
        "reading thread, not the script's) folds a reasoning chunk at the cost of an answer "
        "chunk; Mistral's nested thinking parts cost more per chunk and still a few "
        "hundredths of a second per 8,000 chunks.",
        "",
        f"Goals: **{'met' if ok else 'NOT met'}**.",
        "",
        "Reproduce from the repository root: `.venv/bin/python -m bench.reasoning` (about a "
        "minute; `--repeat N` for more rounds; it rewrites this section and exits non-zero if "
        "a goal is missed).",
    ]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
