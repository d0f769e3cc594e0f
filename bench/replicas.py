"""Benchmark three replicas behind HAProxy (issue 13, item 3); run as `python -m bench.replicas`.

Sixty sessions at once through HAProxy to three `streamlit run` replicas on one PostgreSQL
(testbed/replicas.py, the same start-up as scripts/replicas), each session doing five turns
with a small image, beside one replica alone on PostgreSQL with twenty sessions (reached
directly), in the same run. The sessions are bench/investigations/ws_sessions.py's websocket
clients (Streamlit's own protocol, every cookie sent as a browser sends them, so the
stickiness cookie HAProxy inserts on the first request takes the websocket and the upload to
one replica); the fake API is testbed/sessions.py's, answering each question with its echo
and 200 paced tokens, stamped as they leave it. The checks and numbers are bench/load.py's:
errors, cross-talk (each session's replies, requests and Conversations page carry only its
own marker "session N turn T"), time to first token, added latency per token (when the token
reached the client minus when the fake API flushed it), p50 / p95; and here the ratio of the
replicas' p95 to the lone process's, and how the sessions spread over the replicas (HAProxy's
log). Chromium pages are not used: sixty pages on this machine's two cores would measure
Chromium (bench/load.py's CPU table: twenty already take several times the app's CPU).

Needs PostgreSQL (`--database-url`, else NEXUSCHAT_TEST_POSTGRES_URL; scripts/start-postgres)
and HAProxy. Prints the table, exits non-zero on an error or cross-talk, and rewrites the
"## Replicas" section of docs/PERFORMANCE.md (`--no-write` leaves it alone).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import machine, percentile, write_section
from bench.investigations.ws_sessions import LOOP_LAG_MS, drive_ws
from bench.load import CpuSampler, Phase, _cpu_s, fmt, machine_busy, pair
from testbed.app_server import KEY
from testbed.databases import fresh_schema
from testbed.replicas import Replica, Replicas, haproxy_missing, hosted_env
from testbed.sessions import LoadFakeAPI, LoadPlan, check_requests, make_images

SECTION = "## Replicas"
SESSIONS, SINGLE_SESSIONS, TURNS, REPLICAS = 60, 20, 5, 3
PAD_TOKENS, TOKENS_PER_SECOND = 200, 100.0
TIMEOUT_S = 180.0
SECRET = "bench-replicas-cookie-secret-0123456789"
PROXY_LOG_COPY = Path(tempfile.gettempdir()) / "nexuschat-replicas-haproxy.log"  # kept


@dataclass
class Target:
    """Where a phase's clients connect, and the processes serving it."""

    url: str
    servers: list[Replica]


def run(label: str, target: Target, fake: LoadFakeAPI, plan: LoadPlan, workdir: Path) -> Phase:
    fake.reset()
    images = make_images(workdir / "images", plan.sessions)
    before = {r.name: _cpu_s(r.pid) for r in target.servers}
    busy_before = machine_busy()
    with CpuSampler(target.servers[0].pid) as sampler:
        started = time.monotonic()
        results = drive_ws(target.url, plan, images)
        seconds = time.monotonic() - started
    busy_after = machine_busy()
    tck = os.sysconf("SC_CLK_TCK")
    phase = Phase("websocket", label, plan, results, *check_requests(fake.requests, plan),
                  fake.served(), seconds, sampler.totals(),
                  (busy_after[0] - busy_before[0]) / tck, (busy_after[1] - busy_before[1]) / tck)
    phase.cpu["app"] = sum(_cpu_s(r.pid) - before[r.name] for r in target.servers)
    phase.client_lag_ms = list(LOOP_LAG_MS)
    print(f"  {label}: {len(phase.errors)} errors, {len(phase.crosstalk)} cross-talk, "
          f"{seconds:.1f} s, machine {phase.machine_busy:.0%} busy", flush=True)
    for line in (phase.errors + phase.crosstalk)[:40]:
        print(f"    {line[:400]}", flush=True)
    return phase


def spread(replicas: Replicas, since: int) -> dict[str, int]:
    """Websockets opened per replica (HAProxy's log), from log line `since` on."""
    lines = replicas.proxy.log_lines()[since:]
    counts = collections.Counter(line.server for line in lines if line.websocket)
    return {r.name: counts.get(r.name, 0) for r in replicas.replicas}


def report(single: Phase, many: Phase, sessions_per: dict[str, int]) -> tuple[list[str], bool]:
    table = [
        "| run | sessions × turns | errors | cross-talk | first token ms p50 / p95 "
        "| added latency per token ms p50 / p95 / max | tokens never shown | wall s "
        "| machine busy | CPU s: app servers | bench + fake API | everything else |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in (single, many):
        lags = p.lags_ms()
        table.append(
            f"| {p.label} | {len(p.plan.sessions)} × {p.plan.turns} | {len(p.errors)} "
            f"| {len(p.crosstalk)} | {pair(p.ttft_ms())} | {pair(lags)} / "
            f"{fmt(max(lags, default=None))} | {p.missing_tokens()} | {p.seconds:.1f} "
            f"| {p.machine_busy:.0%} | {p.cpu['app']:.1f} | {p.cpu['bench']:.1f} "
            f"| {p.other_cpu_s:.1f} |")
    p95_one, p95_many = (percentile(p.lags_ms(), 95) for p in (single, many))
    ttft_one, ttft_many = (percentile(p.ttft_ms(), 95) for p in (single, many))
    ratio = (p95_many / p95_one) if p95_one and p95_many else None
    ttft_ratio = (ttft_many / ttft_one) if ttft_one and ttft_many else None
    ok = not (single.errors or single.crosstalk or many.errors or many.crosstalk)
    lines = table + [
        "",
        f"- Ratio, p95 added latency per token, {many.label} / {single.label}: "
        f"**{fmt(ratio, '.2f')}** ({fmt(p95_many, '.1f')} ms / {fmt(p95_one, '.1f')} ms); "
        f"p95 first token: {fmt(ttft_ratio, '.2f')}.",
        "- App servers' CPU per turn: " + " / ".join(
            f"{p.cpu['app'] / max(1, len(p.plan.sessions) * p.plan.turns):.2f} s ({p.label})"
            for p in (single, many)) + ".",
        "- Sessions per replica (websockets HAProxy opened): "
        + ", ".join(f"{name} {count}" for name, count in sessions_per.items()) + ".",
        f"- {'PASS' if not (many.errors or single.errors) else 'FAIL'}: zero errors "
        f"({len(single.errors)} / {len(many.errors)}); "
        f"{'PASS' if not (many.crosstalk or single.crosstalk) else 'FAIL'}: zero cross-talk "
        f"({len(single.crosstalk)} / {len(many.crosstalk)}).",
    ]
    return lines, ok


def section(lines: list[str], load_avg: tuple[float, float, float], command: str,
            plan: LoadPlan) -> str:
    import openai
    import streamlit

    return "\n".join([
        SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}, Python "
        f"{platform.python_version()}, Streamlit {streamlit.__version__}, openai "
        f"{openai.__version__}, HAProxy (Debian's), PostgreSQL (scripts/start-postgres); "
        f"1-minute load average {load_avg[0]:.1f} before the run, and other work on the "
        "machine during it (the last column). Command: "
        f"`{command}`.",
        "",
        f"Method: {REPLICAS} replicas of the app (`streamlit run streamlit_app.py`, "
        "`NEXUSCHAT_MODE=hosted`, one PostgreSQL schema, one cookie secret) behind HAProxy "
        "with cookie-insert stickiness (`testbed/replicas.py`, `deploy/haproxy-replicas.cfg`, "
        "as `scripts/replicas` starts them), against one replica alone on PostgreSQL reached "
        "directly, in the same run, one after the other. Every session does "
        f"{plan.turns} turns back to back: a unique question (\"session 7 turn 3\") with a "
        "320×240 PNG uploaded through the chat input's file URL and PUT, and a wait for the "
        "stored reply; all start together. The fake API answers with the echo and "
        f"{plan.pad} more tokens at {TOKENS_PER_SECOND:g} tokens/s and stamps each token as "
        "it flushes it. The sessions are Streamlit websocket clients "
        "(`bench/investigations/ws_sessions.py`, the method of \"## Concurrency\"): sixty "
        "Chromium pages on two cores would measure Chromium. Added latency per token: "
        "when the token (or a later one) reached the client minus when the fake API "
        "flushed it, over every token of every turn. Cross-talk: anything in a session's "
        "replies, its requests to the API or its Conversations page but its own marker "
        "and history. CPU s: the app servers' own (all replicas), the bench process "
        "(its clients and the fake API), and everything else on this shared machine. "
        "HAProxy's own CPU is in \"everything else\".",
        "",
        *lines,
        "",
        "Read with the machine in mind: the replicas are three processes on the same two "
        "cores as the clients, the fake API and other people's work, so here they add no "
        "CPU, and sixty sessions are three times the work of twenty on the same cores: the "
        "latency ratio measures that saturation (compare the app servers' CPU per turn, "
        "about the same in both runs, and the machine busy column), not the proxy or the "
        "replicas. What replicas add is more than one interpreter (one GIL and event loop "
        "each) and a proxy hop; on a deploy each replica has cores of its own. The "
        "correctness goals (zero errors, zero cross-talk with sixty sessions through the "
        "proxy) do not depend on the machine.",
        "",
        f"Reproduce: `{command}` (needs PostgreSQL and HAProxy; `--no-write` leaves this "
        "section alone; `--sessions`, `--single`, `--turns` change the load).",
    ]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas")
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--single", type=int, default=SINGLE_SESSIONS,
                        help="sessions against the lone process (the baseline)")
    parser.add_argument("--turns", type=int, default=TURNS)
    parser.add_argument("--pad", type=int, default=PAD_TOKENS)
    parser.add_argument("--replicas", type=int, default=REPLICAS)
    parser.add_argument("--database-url",
                        default=os.environ.get("NEXUSCHAT_TEST_POSTGRES_URL", ""))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("PostgreSQL needed: --database-url or NEXUSCHAT_TEST_POSTGRES_URL "
                     "(scripts/start-postgres prints it)")
    if reason := haproxy_missing():
        parser.error(reason)

    load_avg = os.getloadavg()
    numbers = iter(range(1, 100_000, 1000))

    def plan(sessions: int, turns: int) -> LoadPlan:
        first = next(numbers)
        return LoadPlan(list(range(first, first + sessions)), turns, args.pad, TIMEOUT_S)

    with LoadFakeAPI(pad=args.pad, tokens_per_second=TOKENS_PER_SECOND) as fake, \
            tempfile.TemporaryDirectory(prefix="nexuschat-replicas-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        env = hosted_env(fake.base_url, workdir)

        print(f"one process on PostgreSQL, {args.single} sessions", flush=True)
        url = stack.enter_context(fresh_schema(args.database_url))
        lone = Replica("lone", workdir, env | {"NEXUSCHAT_DATABASE_URL": url,
                                               "NEXUSCHAT_COOKIE_SECRET": SECRET})
        try:
            lone.start()
            target = Target(lone.url, [lone])
            run("warm-up", target, fake, plan(1, 1), workdir)
            single = run(f"1 process, {args.single} sessions", target, fake,
                         plan(args.single, args.turns), workdir)
        finally:
            lone.stop()

        print(f"{args.replicas} replicas behind HAProxy, {args.sessions} sessions", flush=True)
        url = stack.enter_context(fresh_schema(args.database_url))
        replicas = stack.enter_context(Replicas(workdir / "replicas", url, env,
                                                count=args.replicas, cookie_secret=SECRET))
        target = Target(replicas.url, replicas.replicas)
        run("warm-up", target, fake, plan(args.replicas, 1), workdir)
        since = len(replicas.proxy.log_lines())
        many = run(f"{args.replicas} replicas behind HAProxy, {args.sessions} sessions",
                   target, fake, plan(args.sessions, args.turns), workdir)
        per = spread(replicas, since)
        downs = [line for line in replicas.proxy.log().splitlines() if " is DOWN" in line]
        shutil.copyfile(replicas.proxy.log_path, PROXY_LOG_COPY)
        leaked = replicas.leaked(KEY) + (
            [lone.log_path] if lone.leaked_key() else [])

    lines, ok = report(single, many, per)
    lines.append(f"- Replicas HAProxy marked down during the run: {len(downs)}"
                 + (f" ({'; '.join(d.split(']', 1)[-1].strip()[:120] for d in downs[:3])})"
                    if downs else "") + ".")
    if leaked:
        lines.append(f"- FAIL: the API key appears in {leaked}")
        ok = False
    print()
    print("\n".join(lines))
    if not args.no_write:
        command = " ".join([".venv/bin/python -m bench.replicas", *sys.argv[1:]])
        write_section(SECTION, section(lines, load_avg, command, many.plan))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
