"""Copy as code: the request rebuilt from a stored reply, as Python and cURL that run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from nexuschat.api import build_body
from nexuschat.conversation import Conversation, Message, ReplyMeta
from nexuschat.images import prepare_images
from nexuschat.params import GenerationParams
from nexuschat.snippets import (
    HEREDOC,
    KEY_VARIABLE,
    Request,
    curl_command,
    has_images,
    python_snippet,
    rebuild,
    request_record,
    shortened,
    wire_body,
)
from nexuschat.turns import request_messages

KEY = "sk-snippet-secret-123456"
# Everything a shell or a Python string could trip on.
NASTY = ("It's \"quoted\", $(touch /tmp/pwned) `id` $HOME \\n \\\n'; echo no\n"
         f"{HEREDOC}\nEOF\n'''\"\"\" 中文 ✓")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def sent_turn(base_url: str, *, kind: str = "reply", thinking: str | None = "switch"):
    """A conversation as a turn sends it, and the reply stored with its record."""
    (image,) = prepare_images([(png(), "green.png")], "balanced")
    question = Message("user", NASTY, images=(image,))
    conversation = Conversation(messages=(question,), system_prompt="Be brief. $PATH 'x'")
    params = GenerationParams(temperature=0.5, max_tokens=64, stop=("END",), thinking=True)
    messages = request_messages(conversation, "reply", vision=True)
    body = build_body("claude-sonnet-4-6", messages, params, thinking=thinking)
    record = request_record(base_url, body, system_prompt=conversation.system_prompt,
                            vision=True, kind=kind)
    reply = Message("assistant", "Hello", meta=ReplyMeta(model="claude-sonnet-4-6",
                                                         request=record))
    return conversation, body, reply


def test_the_rebuilt_request_is_the_one_sent():
    conversation, body, reply = sent_turn("https://nexusflow.hk/v1")
    request = rebuild(conversation.messages, reply)
    assert request == Request("https://nexusflow.hk/v1", body)
    assert wire_body(body)["enable_thinking"] is True and "extra_body" not in wire_body(body)


def test_a_continued_reply_shows_the_continuation_request():
    question = Message("user", "Write a lot")
    partial = Message("assistant", "First half", meta=ReplyMeta(model="m"))
    conversation = Conversation(messages=(question, partial))
    body = build_body("m", request_messages(conversation, "continue"), GenerationParams())
    record = request_record("http://x/v1", body, system_prompt="", vision=True,
                            kind="continue", continued_chars=len("First half"))
    merged = Message("assistant", "First half, second half", id=partial.id,
                     meta=ReplyMeta(model="m", request=record))
    assert rebuild((question,), merged).body == body


def test_a_reply_without_a_record_has_no_request():
    assert rebuild((), Message("assistant", "old", meta=ReplyMeta(model="m"))) is None
    assert rebuild((), Message("assistant", "imported")) is None


def test_images_are_shortened_on_screen_only():
    conversation, body, reply = sent_turn("https://nexusflow.hk/v1")
    request = rebuild(conversation.messages, reply)
    url = body["messages"][-1]["content"][1]["image_url"]["url"]
    short = shortened(url)
    assert short.startswith(url[:url.index(",") + 9]) and short.endswith(" B)")
    assert "…(" in short and len(short) < 60
    assert url not in python_snippet(request, short=True) and url in python_snippet(request)
    assert url not in curl_command(request, short=True) and url in curl_command(request)
    assert has_images(body) and not has_images(shortened(body))


def test_the_python_snippet_is_valid_python_without_the_key():
    conversation, _, reply = sent_turn("https://nexusflow.hk/v1")
    request = rebuild(conversation.messages, reply)
    for short in (True, False):
        code = python_snippet(request, short=short)
        compile(code, "request.py", "exec")
        assert KEY not in code and f'os.environ[{KEY_VARIABLE!r}]' in code


def test_the_python_snippet_runs_against_the_api(fake_api):
    conversation, body, reply = sent_turn(fake_api.base_url)
    fake_api.script({"kind": "reply", "text": "Snippet says hi"})
    code = python_snippet(rebuild(conversation.messages, reply))
    env = {**os.environ, KEY_VARIABLE: KEY}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Snippet says hi" in done.stdout
    (received,) = fake_api.chat_requests()
    assert received == wire_body(body)


def test_the_curl_command_is_valid_bash_and_sends_the_same_body(fake_api):
    conversation, body, reply = sent_turn(fake_api.base_url)
    command = curl_command(rebuild(conversation.messages, reply))
    assert KEY not in command and "$NEXUSCHAT_API_KEY" in command
    check = subprocess.run(["bash", "-n"], input=command, text=True, capture_output=True)
    assert check.returncode == 0, check.stderr
    fake_api.script({"kind": "reply", "text": "curl says hi"})
    done = subprocess.run(["bash"], input=command, text=True, capture_output=True, timeout=60,
                          env={**os.environ, KEY_VARIABLE: KEY})
    assert done.returncode == 0, done.stderr
    events = [json.loads(line[6:]) for line in done.stdout.splitlines()
              if line.startswith("data: {")]
    text = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
    assert text == "curl says hi"  # the event stream, printed
    (received,) = fake_api.chat_requests()
    assert received == wire_body(body)  # user text with quotes and `$(...)` arrived as typed
    assert not os.path.exists("/tmp/pwned")


@pytest.mark.parametrize("base_url", ["https://nexusflow.hk/v1/", "http://127.0.0.1:9/v1"])
def test_the_url_is_the_replys_own(base_url):
    conversation, _, reply = sent_turn(base_url)
    request = rebuild(conversation.messages, reply)
    assert request.base_url == base_url
    assert curl_command(request).startswith(f"curl {base_url.rstrip('/')}/chat/completions ")
