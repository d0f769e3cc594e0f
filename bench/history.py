"""Benchmark the chat page with long conversations; run as `python -m bench.history`.

Conversations of 10, 100 and 1,000 messages (and 1,000 with 50 photos) are written straight into
a temporary SQLite store, then each is opened through `?c=<id>` in its own AppTest session of
the real app (`router.py`), next to a stored empty conversation measured in the same run.
Reported per page:

- rerun time: the median of interleaved `at.run()` calls after a warm-up, split into the script
  run (what a server spends) and AppTest's parsing of the page into its element tree (a test
  harness cost no server pays);
- work per rerun that should be zero once a conversation is open: `image_part` calls and base64
  encodes (request-time work), Pillow encodes and decodes (image re-encoding), store loads;
- memory a session holds (tracemalloc growth of one more session on the 1,000 + 50 page, next to
  one on the empty page) against the bytes of its images.

`--profile` adds a pyinstrument profile of reruns of the biggest page (`pip install
pyinstrument`). `--no-write` leaves docs/PERFORMANCE.md alone.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import gc
import io
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import DOC, machine, write_section
from components.state import HISTORY_STEP

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Long conversations"
KEY = "sk-bench-history-0000000000"
MODEL = "claude-sonnet-4-6"
OWNER = "local"
SIZES = (10, 100, 1000)
IMAGES = 50  # on the 1,000-message conversation, spread over its user messages
IMAGE_SOURCE = (1600, 1200)  # photo-like JPEGs; prepared, each is ~0.2 MB at 1238×928
WARMUP = 3
REPEAT = 15  # measured reruns per page (median reported); at least 10
PROFILE_RUNS = 5
GOAL_MS = 150.0  # 1,000 messages with 50 images: a rerun below this
GOAL_RATIO = 3.0  # ... and within this many times the empty page
GOAL_MEMORY_SLACK = 30e6  # a session holds at most its image bytes plus this
ENV_NAMES = ("NEXUSCHAT_API_KEY", "OPENAI_API_KEY", "NEXUSCHAT_BASE_URL", "NEXUSCHAT_MODEL",
             "NEXUSCHAT_READ_TIMEOUT", "NEXUSCHAT_CONNECT_TIMEOUT", "NEXUSCHAT_DATABASE_URL",
             "NEXUSCHAT_MODE", "NEXUSCHAT_DATA_DIR", "NEXUSCHAT_PROVIDER")


# --- the conversations --------------------------------------------------------------------

_TOPICS = ["the cache", "a streaming reply", "the database index", "session state", "the SQL "
           "query", "image uploads", "the retry policy", "a rate limit", "the websocket",
           "memory use", "the test suite", "a migration", "the model list", "error handling"]
_VERBS = ["explains", "slows down", "depends on", "replaces", "keeps", "measures", "breaks",
          "protects", "simplifies", "duplicates"]
_PHRASE = ("so that every request carries what it needs and nothing more, which keeps the page "
           "fast even when the history grows to hundreds of turns and many images")
_WORDS = _PHRASE.split()
_CODE = [
    "```python\ndef load(store, owner, cid):\n    conversation = store.load(owner, cid)\n"
    "    if conversation is None:\n        raise KeyError(cid)\n    return conversation\n```",
    "```sql\nSELECT id, title, updated_at\n  FROM conversations\n WHERE owner = :owner\n"
    " ORDER BY updated_at DESC\n LIMIT 200;\n```",
    "```bash\n.venv/bin/python -m pytest -q tests/unit -k store\n```",
]


def _sentence(rnd: random.Random) -> str:
    tail = " ".join(rnd.sample(_WORDS, rnd.randint(6, 14)))
    return (f"{rnd.choice(_TOPICS).capitalize()} {rnd.choice(_VERBS)} "
            f"{rnd.choice(_TOPICS)}, {tail}.")


def user_text(rnd: random.Random, turn: int) -> str:
    """A question of a couple of sentences, sometimes with inline code."""
    text = " ".join(_sentence(rnd) for _ in range(rnd.randint(1, 2)))
    if turn % 4 == 1:
        text += f" Why does `store.load()` take {rnd.randint(2, 90)} ms here?"
    return text + " What should I change?"


def assistant_text(rnd: random.Random, turn: int) -> str:
    """A reply: a paragraph, a short list with emphasis, and a code block in every third."""
    parts = [" ".join(_sentence(rnd) for _ in range(2)), ""]
    parts += [f"- **{rnd.choice(_TOPICS)}**: {_sentence(rnd)}" for _ in range(rnd.randint(2, 3))]
    if turn % 3 == 0:
        parts += ["", rnd.choice(_CODE)]
    return "\n".join(parts)


def photo_jpeg(seed: int) -> bytes:
    """A distinct photo-like JPEG (quality 92), as a camera or a screenshot tool would save."""
    from bench.images import photo_like

    out = io.BytesIO()
    photo_like(IMAGE_SOURCE, seed=seed).save(out, "JPEG", quality=92)
    return out.getvalue()


def build_conversation(n: int, images: list) -> object:
    """n messages, user first and alternating; `images` go on evenly spread user messages."""
    from nexuschat.conversation import Conversation, Message, ReplyMeta

    rnd = random.Random(n * 7919 + len(images))
    users = n // 2
    every = max(1, users // len(images)) if images else 0
    pictures = iter(images)
    start = time.time() - 86_400
    messages = []
    for i in range(n):
        turn = i // 2
        created = start + i * 30
        if i % 2 == 0:
            attached = ()
            if images and turn % every == every // 2 and turn // every < len(images):
                attached = (next(pictures),)
            messages.append(Message("user", user_text(rnd, turn), images=attached,
                                    created_at=created))
        else:
            text = assistant_text(rnd, turn)
            completion = len(text.split()) * 4 // 3
            meta = ReplyMeta(model=MODEL, finish_reason="stop", prompt_tokens=40 * turn + 30,
                             completion_tokens=completion, total_tokens=40 * turn + 30
                             + completion, ttft_s=0.42, duration_s=0.42 + completion / 60)
            messages.append(Message("assistant", text, meta=meta, created_at=created))
    return Conversation(messages=tuple(messages), model=MODEL, created_at=start,
                        updated_at=start + n * 30)


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Page:
    """One conversation opened in its own AppTest session."""

    label: str
    conversation_id: str
    messages: int
    image_bytes: int
    app: object = None
    first_ms: float = 0.0
    total: list[float] = field(default_factory=list)
    parse: list[float] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    parts: list[Counter] = field(default_factory=list)  # seconds per piece, one per rerun

    def median(self, which: str) -> float:
        values = {"total": self.total, "parse": self.parse,
                  "script": [t - p for t, p in zip(self.total, self.parse, strict=True)]}[which]
        return statistics.median(values)


class Probe:
    """Wraps functions in place to count their calls or time them; times AppTest's parsing."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.seconds: Counter = Counter()
        self.parse_s = 0.0
        self.media_bytes = 0
        self._undo: list[Callable[[], None]] = []

    def count(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            self.counts[label] += 1
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, original))

    def time(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t

        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, original))

    def install_timers(self) -> None:
        """Time the chat page's rendering pieces (nested: images and footers are inside bubbles;
        buttons and sibling navigation are drawn from inside a bubble too)."""
        from components import branches, history, messages

        # components.history calls render_message by the name it imported: time it there.
        self.time(history, "render_message", "bubbles")
        self.time(messages, "render_images", "images")
        self.time(messages, "render_reply_footer", "footers")
        self.time(branches, "render_message_actions", "buttons")
        self.time(branches, "render_sibling_nav", "nav")

    def install(self) -> None:
        from PIL import Image, ImageFile
        from streamlit.runtime.media_file_manager import MediaFileManager
        from streamlit.testing.v1 import local_script_runner

        from nexuschat import conversation, images
        from nexuschat.store import Store

        # image_part is imported by name into nexuschat.conversation: wrap both references.
        self.count(images, "image_part", "image_part")
        self.count(conversation, "image_part", "image_part")
        self.count(base64, "b64encode", "base64 encodes")
        self.count(Image.Image, "save", "Pillow encodes")
        self.count(ImageFile.ImageFile, "load", "Pillow decodes")
        self.count(Store, "load", "store loads")

        add = MediaFileManager.add

        def media_add(manager, content, *args, **kwargs):
            if isinstance(content, bytes):
                self.media_bytes += len(content)
            return add(manager, content, *args, **kwargs)

        MediaFileManager.add = media_add
        self._undo.append(lambda: setattr(MediaFileManager, "add", add))

        parse = local_script_runner.parse_tree_from_messages

        def timed_parse(*args, **kwargs):
            t = time.perf_counter()
            try:
                return parse(*args, **kwargs)
            finally:
                self.parse_s += time.perf_counter() - t

        local_script_runner.parse_tree_from_messages = timed_parse
        self._undo.append(lambda: setattr(local_script_runner, "parse_tree_from_messages", parse))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    @contextmanager
    def window(self) -> Iterator[Counter]:
        """Counts of one stretch of work (a fresh Counter, filled when the block ends)."""
        before, media = self.counts.copy(), self.media_bytes
        got: Counter = Counter()
        yield got
        got.update(self.counts)
        got.subtract(before)
        got["media bytes"] = self.media_bytes - media


def new_app(secrets: dict, conversation_id: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "router.py"), default_timeout=120)
    for name, value in secrets.items():
        at.secrets[name] = value
    at.query_params["c"] = conversation_id
    return at


def run_once(page: Page, probe: Probe) -> float:
    """One rerun; returns its wall time in seconds (AppTest's parse time is in probe.parse_s)."""
    probe.parse_s = 0.0
    t = time.perf_counter()
    page.app.run()
    elapsed = time.perf_counter() - t
    if page.app.exception:
        raise RuntimeError(f"{page.label}: {page.app.exception[0].message}")
    return elapsed


def shown_messages(page: Page) -> int:
    """How many chat bubbles the page drew (a check that the conversation really opened)."""
    return len(page.app.chat_message)


def session_memory(secrets: dict, conversation_id: str, runs: int = 3) -> tuple[int, int]:
    """Bytes a new session on this page still holds after `runs` runs, and of those, what
    AppTest's own parsed copy of the page took (tracemalloc; a server keeps no such copy)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        at = new_app(secrets, conversation_id)
        for _ in range(runs):
            at.run()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        at._tree = None
        gc.collect()
        tree = held - (tracemalloc.get_traced_memory()[0] - before)
        del at
        gc.collect()
    finally:
        tracemalloc.stop()
    return held, tree


def profile_reruns(page: Page, runs: int) -> str:
    """A pyinstrument profile of reruns, taken on the script thread (where the page runs)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument is not installed: `.venv/bin/pip install pyinstrument`"
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    profiler = Profiler(interval=0.0005)
    original = ScriptRunner._run_script

    def profiled(self, rerun_data):
        profiler.start()  # sessions of several starts are combined
        try:
            return original(self, rerun_data)
        finally:
            profiler.stop()

    ScriptRunner._run_script = profiled
    try:
        for _ in range(runs):
            page.app.run()
    finally:
        ScriptRunner._run_script = original
    return profiler.output_text(unicode=True, color=False, show_all=False)


# --- the run ------------------------------------------------------------------------------




def clean_environment(data_dir: Path) -> None:
    """No key, URL or database from this machine reaches the app; history stays in a temp dir."""
    for name in ENV_NAMES:
        os.environ.pop(name, None)
    os.environ["NEXUSCHAT_DATA_DIR"] = str(data_dir)
    os.chdir(ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help="measured reruns per page")
    parser.add_argument("--profile", action="store_true",
                        help="profile reruns of the biggest page with pyinstrument")
    parser.add_argument("--no-write", action="store_true", help="leave docs/PERFORMANCE.md alone")
    args = parser.parse_args(argv)
    repeat = max(10, args.repeat)

    with tempfile.TemporaryDirectory(prefix="nexuschat-bench-history-") as tmp:
        clean_environment(Path(tmp) / "data")
        from testbed.fake_api import FakeAPI

        with FakeAPI() as fake:
            return measure(Path(tmp), fake, repeat, args)


def measure(tmp: Path, fake, repeat: int, args: argparse.Namespace) -> int:
    import streamlit as st

    load = os.getloadavg()[0]
    url = f"sqlite:///{tmp / 'history.sqlite3'}"
    secrets = {"NEXUSCHAT_API_KEY": KEY, "NEXUSCHAT_BASE_URL": fake.base_url,
               "NEXUSCHAT_DATABASE_URL": url, "NEXUSCHAT_MODE": "local",
               "NEXUSCHAT_PROVIDER": "api"}
    pages = store_conversations(url)

    st.cache_data.clear()
    probe = Probe()
    probe.install()
    try:
        new_app(secrets, pages[0].conversation_id).run()  # the process's first run: imports
        for page in pages:  # open each: the first run loads the conversation from the store
            page.app = new_app(secrets, page.conversation_id)
            page.first_ms = run_once(page, probe) * 1000
            bubbles = shown_messages(page)
            expected = min(page.messages, HISTORY_STEP)  # the page draws the latest messages
            if bubbles != expected:
                raise RuntimeError(f"{page.label}: {bubbles} bubbles, expected {expected}")
            print(f"  opened {page.label}: {page.first_ms:.0f} ms", flush=True)
        for _ in range(WARMUP):
            for page in pages:
                run_once(page, probe)
        print(f"measuring {repeat} interleaved reruns per page ...", flush=True)
        for _ in range(repeat):
            for page in pages:
                with probe.window() as counts:
                    elapsed = run_once(page, probe)
                page.total.append(elapsed * 1000)
                page.parse.append(probe.parse_s * 1000)
                page.counts.update(counts)

        print("timing the page's pieces (separate reruns, with timers) ...", flush=True)
        probe.install_timers()
        for _ in range(repeat):
            for page in pages[-2:]:
                probe.seconds.clear()
                run_once(page, probe)
                page.parts.append(probe.seconds.copy())
        probe.uninstall()

        print("measuring session memory (tracemalloc) ...", flush=True)
        big = pages[-1]
        empty_held, empty_tree = session_memory(secrets, pages[0].conversation_id)
        big_held, big_tree = session_memory(secrets, big.conversation_id)
        memory = {"empty": empty_held - empty_tree, "big": big_held - big_tree,
                  "big_tree": big_tree, "images": big.image_bytes}

        profile = profile_reruns(big, PROFILE_RUNS) if args.profile else ""
    finally:
        probe.uninstall()
    load = max(load, os.getloadavg()[0])

    text, ok = report(pages, memory, repeat, load)
    print()
    print(text)
    if profile:
        print(f"pyinstrument, {PROFILE_RUNS} reruns of '{big.label}':\n{profile}")
    if not args.no_write:
        write_section(SECTION, text)
        print(f"wrote the {SECTION!r} section of {DOC}")
    return 0 if ok else 1


def store_conversations(url: str) -> list[Page]:
    """Write the conversations into the store (owner `local`); one Page for each."""
    from nexuschat.conversation import Conversation
    from nexuschat.images import prepare_image
    from nexuschat.store import Store

    print(f"preparing {IMAGES} photos through prepare_image ...", flush=True)
    photos = [prepare_image(photo_jpeg(seed), f"photo-{seed:02d}.jpg") for seed in range(IMAGES)]
    print(f"  {len(photos)} images, {sum(p.size_bytes for p in photos) / 1e6:.1f} MB, "
          f"{photos[0].width}×{photos[0].height} {photos[0].mime}", flush=True)
    pages: list[Page] = []
    with Store.open(url) as store:
        for label, n, pics in (("empty conversation", 0, []),
                               *((f"{n:,} messages", n, []) for n in SIZES),
                               (f"{SIZES[-1]:,} messages + {IMAGES} images", SIZES[-1], photos)):
            conversation = build_conversation(n, pics) if n else Conversation()
            store.create(OWNER, conversation)
            pages.append(Page(label, conversation.id, n, sum(p.size_bytes for p in pics)))
    print(f"stored: {', '.join(p.label for p in pages)}", flush=True)
    return pages


def per_rerun(page: Page, what: str, repeat: int) -> float:
    return page.counts[what] / repeat


def part_ms(page: Page, name: str) -> float:
    """Median ms per rerun of one piece; "text" is the bubbles without the pieces inside."""
    if name == "text":
        inner = ("images", "footers", "buttons", "nav")
        values = [c["bubbles"] - sum(c[k] for k in inner) for c in page.parts]
    else:
        values = [c[name] for c in page.parts]
    return statistics.median(values) * 1000


PARTS = (
    ("text", "bubbles: `st.chat_message`, `st.markdown` of the text, the action row"),
    ("images", "images: `st.image` (`components/messages.py` `render_images`)"),
    ("buttons", "edit / regenerate buttons (`branches.render_message_actions`)"),
    ("footers", "reply footers: meta caption (`render_reply_footer`)"),
    ("nav", "sibling navigation (`branches.render_sibling_nav`)"),
)


def report(pages: list[Page], memory: dict, repeat: int, load: float) -> tuple[str, bool]:
    """The docs section: conditions, the tables, the goals, causes, and how to reproduce."""
    import streamlit

    empty, big = pages[0], pages[-1]
    base_total, base_script = empty.median("total"), empty.median("script")
    table = [
        "| page (chat, opened by `?c=`) | first open ms | rerun ms (AppTest `run()`) | × empty "
        "| script ms | × empty | AppTest parse ms | Pillow encodes / decodes per rerun "
        "| `image_part` / base64 per rerun | store loads per rerun |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in pages:
        table.append(
            f"| {p.label} | {p.first_ms:.0f} | {p.median('total'):.1f} "
            f"| {p.median('total') / base_total:.2f} | {p.median('script'):.1f} "
            f"| {p.median('script') / base_script:.2f} | {p.median('parse'):.1f} "
            f"| {per_rerun(p, 'Pillow encodes', repeat):g} / "
            f"{per_rerun(p, 'Pillow decodes', repeat):g} "
            f"| {per_rerun(p, 'image_part', repeat):g} / "
            f"{per_rerun(p, 'base64 encodes', repeat):g} "
            f"| {per_rerun(p, 'store loads', repeat):g} |"
        )
    timed = pages[-2:]
    table += [
        "",
        "| where a rerun goes, ms (median; separate reruns with timers) | "
        + " | ".join(p.label for p in timed) + " |",
        "| --- |" + " ---: |" * len(timed),
        *(f"| {label} | " + " | ".join(f"{part_ms(p, name):.1f}" for p in timed) + " |"
          for name, label in PARTS),
    ]
    media = big.counts["media bytes"] / repeat
    limit = memory["images"] + GOAL_MEMORY_SLACK
    table += [
        "",
        "| memory of one session (tracemalloc growth, after 3 runs) | MB |",
        "| --- | ---: |",
        f"| empty conversation | {memory['empty'] / 1e6:.2f} |",
        f"| {big.label} | {memory['big'] / 1e6:.2f} |",
        f"| … of which the {IMAGES} images' bytes | {memory['images'] / 1e6:.2f} |",
        f"| media a server keeps for the page (bytes handed to the media manager per run) "
        f"| {media / 1e6:.2f} |",
        f"| AppTest's parsed copy of the page (not a server's cost; left out above) "
        f"| {memory['big_tree'] / 1e6:.2f} |",
        f"| goal: at most image bytes + {GOAL_MEMORY_SLACK / 1e6:.0f} MB | {limit / 1e6:.2f} |",
    ]

    script, ratio = big.median("script"), big.median("script") / base_script
    encodes = per_rerun(big, "Pillow encodes", repeat)
    request_work = per_rerun(big, "image_part", repeat) + per_rerun(big, "base64 encodes", repeat)
    held = memory["big"] + media
    goals = [
        (f"rerun of {big.label} < {GOAL_MS:.0f} ms: script {script:.0f} ms (whole AppTest run "
         f"{big.median('total'):.0f} ms)", script < GOAL_MS),
        (f"within {GOAL_RATIO:g}× the empty page: script {ratio:.2f}× (whole AppTest run "
         f"{big.median('total') / base_total:.2f}×)", ratio <= GOAL_RATIO),
        (f"no image re-encoded on rerun: {encodes:g} Pillow encodes, {request_work:g} "
         "`image_part` calls / base64 encodes per rerun", encodes + request_work == 0),
        (f"session memory ≤ image bytes + {GOAL_MEMORY_SLACK / 1e6:.0f} MB: {held / 1e6:.1f} MB "
         f"with the page's media (limit {limit / 1e6:.1f} MB)", held <= limit),
    ]
    ok = all(passed for _, passed in goals)
    lines = [
        SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}, Python "
        f"{platform.python_version()}, Streamlit {streamlit.__version__}; 1-minute load average "
        f"up to {load:.1f} during the run. Each page is the real app (`router.py`) in its "
        "own AppTest session, opened by `?c=<id>` on a conversation written straight into a "
        "temporary SQLite store (owner `local`): alternating user / assistant messages of "
        f"markdown (about {average_chars()} characters each: lists, bold, inline code, a fenced "
        "code block in every third reply; replies carry usage and timings), the last page with "
        f"{IMAGES} distinct photo-like JPEGs prepared by `prepare_image` "
        f"({big.image_bytes / IMAGES / 1e3:.0f} kB each, 1238×928) on evenly spread user "
        f"messages. Times are medians of {repeat} reruns (`at.run()`, no input) per page, in "
        f"rounds that take every page in turn, after {WARMUP} warm-up rounds. \"Script\" is "
        "`at.run()` minus AppTest's parsing of the page into its element tree: the script "
        "thread's work, which a server does too (it also serialises and sends the deltas). "
        "Counts are per rerun, from wrappers the bench puts around "
        "`nexuschat.images.image_part`, `base64.b64encode`, Pillow's `Image.save` / "
        "`ImageFile.load` and `Store.load`.",
        "",
        *table,
        "",
        *(f"- {'PASS' if passed else 'FAIL'}: {text}" for text, passed in goals),
        "",
        f"Goals for long conversations: **{'all met' if ok else 'not all met'}**.",
        *causes(pages, repeat, encodes, ratio),
        "",
        "Reproduce from the repository root: `.venv/bin/python -m bench.history` (about a "
        "minute; `--profile` adds a pyinstrument profile of the biggest page, taken on the "
        "script thread; it rewrites this section and exits non-zero if a goal is missed).",
    ]
    return "\n".join(lines) + "\n", ok


def causes(pages: list[Page], repeat: int, encodes: float, ratio: float) -> list[str]:
    """Why a goal is missed, for each cause the measurements show (nothing when all pass)."""
    big, text_only = pages[-1], pages[-2]
    out = []
    if encodes:
        out += [
            "",
            f"Images are re-encoded on every rerun ({encodes:g} Pillow encodes, "
            f"{part_ms(big, 'images'):.0f} ms): `render_images` (`components/messages.py`) "
            "calls `st.image(image.data, width=min(image.width, THUMBNAIL_PX))`, and Streamlit's "
            "`image_to_url` → `_ensure_image_size_and_format` "
            "(`streamlit/elements/lib/image_utils.py`) decodes any image wider than the "
            "requested width, resizes it and re-encodes it as a JPEG at quality 90, each run. "
            "Proposed fix: hand `st.image` bytes already at thumbnail width, made once per "
            "image, e.g. a pure `nexuschat.images.thumbnail(data, px) -> bytes` (draft decode, "
            "reduce, encode) behind `@st.cache_data(max_entries=…)` keyed by the image's "
            "sha256 (the store already computes it: carry it on `PreparedImage`), or stored "
            "next to the image. Streamlit then only reads the header and hashes ~20 kB.",
        ]
    if ratio > GOAL_RATIO or big.median("script") >= GOAL_MS:
        per = (part_ms(text_only, "text") + part_ms(text_only, "buttons")
               + part_ms(text_only, "footers")) / max(1, text_only.messages)
        out += [
            "",
            "Every message of the branch is drawn on every rerun (`app_pages/chat.py`, the "
            f"`for index, message in enumerate(shown)` loop): {per * 1000:.0f} µs per message "
            f"for the bubble, its markdown, its action row and edit / regenerate button, and the "
            "reply footer, "
            f"so {text_only.messages:,} messages cost {text_only.median('script'):.0f} ms "
            "before any image, against "
            f"{pages[0].median('script'):.0f} ms for the whole empty page. Streamlit sends every "
            "element again on a rerun, so no cache makes this constant; only drawing fewer "
            "messages does. Proposed fix: draw a window of the latest messages (about 30) and "
            "a \"Show earlier messages (n)\" button that widens it (one session-state key in "
            "`components/state.py`); the whole branch stays in the store, in search and "
            "export, and in every request. It also keeps Enter → request (issue 5, goal 4) "
            "independent of the conversation's length, since the history is drawn before "
            "the turn runs.",
        ]
    return out


def average_chars() -> int:
    messages = build_conversation(SIZES[-1], []).messages
    return round(sum(len(m.content) for m in messages) / len(messages))




if __name__ == "__main__":
    sys.exit(main())
