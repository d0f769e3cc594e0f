"""The real local server through the real client: streaming, its template, and its quirks.

Every request is small (a few tokens) so the tier stays quick on two cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest

from nexuschat.api import ChatStream, build_body, list_models, make_client
from nexuschat.config import PROVIDER_LOCAL, Settings
from nexuschat.conversation import Conversation, Message, ReplyMeta, to_openai
from nexuschat.local import LOCAL_MODEL, LocalServer
from nexuschat.models import capabilities
from nexuschat.params import GenerationParams, to_request, validate
from nexuschat.streaming import ReplyAccumulator, paced
from tests.integration.conftest import running

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHORT = GenerationParams(max_tokens=24, temperature=0.0, seed=7)
GONE_WITHIN_S = 30  # a deadline for waiting, not a timing assertion


def settings_for(server: LocalServer) -> Settings:
    return Settings(base_url=server.base_url, model=LOCAL_MODEL, provider=PROVIDER_LOCAL)


def post(server: LocalServer, body: dict) -> httpx2.Response:
    """A raw request, for what the SDK would refuse to send or hide."""
    return httpx2.post(f"{server.base_url}/chat/completions", json=body, timeout=60)


def stream_reply(server: LocalServer, messages: list[dict],
                 params: GenerationParams = SHORT) -> ReplyAccumulator:
    """The app's path: ChatStream read by `paced` on a worker, folded by ReplyAccumulator."""
    stream = ChatStream(make_client(settings_for(server)), build_body(LOCAL_MODEL, messages,
                                                                       params))
    reply = ReplyAccumulator()
    for _ in paced(stream, reply.add, 0.08):
        pass
    reply.finish()
    return reply


def test_the_server_lists_the_bundled_model(local_server):
    assert list_models(make_client(settings_for(local_server))) == [LOCAL_MODEL]


def test_real_tokens_stream_through_the_app_path(local_server):
    reply = stream_reply(local_server, [{"role": "user", "content": "Say hello in one line."}])
    assert reply.text.strip()
    assert reply.chunks > 2  # streamed, token by token, not one block
    assert reply.finish_reason in ("stop", "length") and reply.complete
    meta = reply.meta()
    assert meta.ttft_s is not None and meta.ttft_s >= 0
    # The server ignores stream_options.include_usage: usage stays unknown, never estimated.
    assert reply.usage is None and not meta.has_usage


def test_system_messages_reach_the_formatted_prompt(local_setup):
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    vocab = Llama(local_setup.model_path, vocab_only=True, verbose=False)
    template = vocab.metadata["tokenizer.chat_template"]  # the template the server is told to use
    formatter = Jinja2ChatFormatter(template=template, eos_token="<|im_end|>",
                                    bos_token="<|im_start|>")
    system = "You are a pirate. Answer in pirate speech."
    messages = to_openai(Conversation(messages=(Message("user", "hi"),), system_prompt=system))
    prompt = formatter(messages=messages).prompt
    assert prompt.startswith(f"<|im_start|>system\n{system}<|im_end|>\n")
    assert "named SmolLM" not in prompt  # the template's default system line gave way to ours
    assert prompt.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_the_server_counts_the_system_prompt_in_the_prompt(local_server):
    def prompt_tokens(system: str) -> int:
        messages = [{"role": "system", "content": system}] if system else []
        body = {"model": LOCAL_MODEL, "messages": [*messages, {"role": "user", "content": "Hi"}],
                "max_tokens": 1}
        response = post(local_server, body)
        assert response.status_code == 200, response.text
        return response.json()["usage"]["prompt_tokens"]

    short = prompt_tokens("Be brief.")
    long = prompt_tokens("Be brief. " + "Always answer like a pirate would. " * 20)
    assert long - short >= 100  # 20 × 7 words of system prompt were in the model's input


def test_an_empty_assistant_turn_is_accepted_where_null_is_refused(local_server):
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None},
               {"role": "user", "content": "Again"}]
    refused = post(local_server, {"model": LOCAL_MODEL, "messages": history, "max_tokens": 2})
    assert refused.status_code == 500  # the quirk: pydantic refuses null content
    stopped = Message("assistant", "", meta=ReplyMeta(status="stopped"))
    ours = to_openai(Conversation(messages=(Message("user", "Hi"), stopped,
                                            Message("user", "Again"))))
    assert ours[1] == {"role": "assistant", "content": ""}
    reply = stream_reply(local_server, ours, GenerationParams(max_tokens=4))
    assert reply.complete


@pytest.mark.parametrize("params", [
    GenerationParams(top_p=1.5),
    GenerationParams(presence_penalty=3.0),
    GenerationParams(frequency_penalty=-2.5),
])
def test_out_of_range_values_get_500_from_the_server_and_never_leave_the_app(local_server,
                                                                           params):
    body = {"model": LOCAL_MODEL, "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 2, **to_request(params)}
    response = post(local_server, body)
    assert response.status_code == 500 and "validation error" in response.text
    assert validate(params)  # the composer holds such a message with the reason instead


def test_n_above_one_silently_returns_one_choice_which_the_capabilities_say(local_server):
    body = {"model": LOCAL_MODEL, "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 2, "n": 3}
    response = post(local_server, body)
    assert response.status_code == 200
    assert len(response.json()["choices"]) == 1
    assert capabilities(LOCAL_MODEL).multiple_choices is False


def test_a_second_request_waits_instead_of_cutting_the_first(local_server):
    question = [{"role": "user", "content": "Count from one to twenty in words."}]
    long = GenerationParams(max_tokens=64, temperature=0.0, seed=1)
    first_started = threading.Event()
    results: dict[str, ReplyAccumulator] = {}

    def first() -> None:
        stream = ChatStream(make_client(settings_for(local_server)),
                            build_body(LOCAL_MODEL, question, long))
        reply = ReplyAccumulator()
        for chunk in stream:
            reply.add(chunk)
            if reply.text:
                first_started.set()
        results["first"] = reply

    worker = threading.Thread(target=first)
    worker.start()
    assert first_started.wait(60)
    results["second"] = stream_reply(local_server, [{"role": "user", "content": "Hi"}],
                                     GenerationParams(max_tokens=4))
    worker.join(120)
    # With interrupt_requests on (the server's default), the first would end without a reason.
    assert results["first"].complete and results["second"].complete


def test_stop_ends_the_process_group(local_setup):
    server = LocalServer(local_setup.model_path, threads=1).start()
    pid = server.pid
    server.wait_ready()
    server.stop()
    assert not running(pid)
    assert not server.alive


def test_no_server_outlives_a_killed_parent(local_setup):
    # A parent that starts a server, prints its pid and dies with SIGKILL (no atexit, no cleanup).
    code = ("import os, signal, sys\n"
            "from nexuschat.local import LocalServer\n"
            f"server = LocalServer({local_setup.model_path!r}, threads=1)\n"
            "server.start().wait_ready()\n"
            "print(server.pid, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    parent = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout.split()[0])
    deadline = time.monotonic() + GONE_WITHIN_S
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(child), "the local server outlived the app that started it"


def test_a_stopped_parent_stops_its_server_at_exit(local_setup):
    code = ("from nexuschat.local import LocalServer\n"
            f"server = LocalServer({local_setup.model_path!r}, threads=1)\n"
            "server.start().wait_ready()\n"
            "print(server.pid, flush=True)\n")  # then a normal exit: atexit stops it
    parent = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert parent.returncode == 0, parent.stderr
    assert not running(int(parent.stdout.split()[0]))



def test_a_crashed_server_is_restarted_once_for_every_session(local_setup):
    """The shared server owns its lifecycle: sessions that find it dead at the same moment all
    wait for one restart, and then read the same address."""
    server = LocalServer(local_setup.model_path, threads=1)
    try:
        server.ensure_ready()
        first = server.pid
        os.killpg(first, signal.SIGKILL)  # a crash (the OOM killer, say)
        deadline = time.monotonic() + GONE_WITHIN_S
        while server.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.ready
        pids, urls, errors = set(), set(), []
        barrier = threading.Barrier(4)

        def session() -> None:
            barrier.wait()
            try:
                server.ensure_ready()
                pids.add(server.pid)
                urls.add(server.base_url)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=session) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert errors == []
        assert len(pids) == 1 and first not in pids  # one new process, shared by all four
        assert len(urls) == 1 and server.ready
        assert stream_reply(server, [{"role": "user", "content": "Hi"}],
                            GenerationParams(max_tokens=4)).complete
    finally:
        server.stop()
