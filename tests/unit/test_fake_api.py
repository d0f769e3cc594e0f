"""The fake API server, driven by the real openai client over real HTTP."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from testbed.fake_api import DEFAULT_MODELS, FakeAPI, FakeAPIControl

ROOT = Path(__file__).resolve().parents[2]
USER = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def server():
    with FakeAPI() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    server.set_models(DEFAULT_MODELS)
    return server


@pytest.fixture
def client(fake):
    with openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=5) as c:
        yield c


def stream(client, **kw):
    kw.setdefault("model", "m")
    kw.setdefault("messages", USER)
    return client.chat.completions.create(stream=True, **kw)


def content_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def finish_reasons(chunks) -> list:
    return [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]


# replies


def test_default_reply_echoes_last_user_message(client):
    r = client.chat.completions.create(
        model="qwen3.5-plus",
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second one"},
        ],
    )
    assert r.choices[0].message.content == "Echo: second one"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "qwen3.5-plus"
    assert r.usage.prompt_tokens == 4
    assert r.usage.completion_tokens == 3
    assert r.usage.total_tokens == 7


def test_echo_counts_images_and_text_parts(fake, client):
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    parts = [{"type": "text", "text": "look "}, image, {"type": "text", "text": "here"}, image]
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": parts}])
    assert r.choices[0].message.content == "Echo: look here [images: 2]"
    assert r.usage.prompt_tokens == 2 + 2 * 85
    (body,) = fake.chat_requests()
    assert body["messages"][0]["content"][1] == image


def test_streamed_text_reassembles_exactly(fake, client):
    text = "  Hello,  world!\n\nLine two\twith tabs.  "
    fake.script({"kind": "reply", "text": text}, {"kind": "reply", "text": text, "chunk_tokens": 3})
    one = list(stream(client))
    three = list(stream(client))
    assert content_of(one) == content_of(three) == text
    assert one[0].choices[0].delta.role == "assistant"
    assert len([c for c in one if c.choices and c.choices[0].delta.content]) == 6
    assert len([c for c in three if c.choices and c.choices[0].delta.content]) == 2
    assert finish_reasons(one) == ["stop"]
    assert one[0].id.startswith("chatcmpl-fake")


def test_generated_tokens_and_usage_only_when_requested(fake, client):
    fake.script(
        *[{"kind": "reply", "tokens": 5}] * 2, {"kind": "reply", "ignore_stream_options": True}
    )
    with_usage = list(stream(client, stream_options={"include_usage": True}))
    assert content_of(with_usage) == "w0 w1 w2 w3 w4 "
    assert with_usage[-1].choices == []
    assert with_usage[-1].usage.completion_tokens == 5
    assert with_usage[-1].usage.prompt_tokens == 2
    assert with_usage[-1].usage.total_tokens == 7
    assert all(c.usage is None for c in with_usage[:-1])
    without = list(stream(client))
    assert all(c.usage is None and c.choices for c in without)
    ignored = list(stream(client, stream_options={"include_usage": True}))
    assert all(c.usage is None and c.choices for c in ignored)


def test_finish_reason_length_and_model_override(fake, client):
    fake.script({"kind": "reply", "tokens": 3, "finish_reason": "length", "model": "other"})
    chunks = list(stream(client))
    assert finish_reasons(chunks) == ["length"]
    assert {c.model for c in chunks} == {"other"}


def test_pacing_and_first_token_delay(fake, client):
    fake.script({"kind": "reply", "tokens": 5, "tokens_per_second": 50, "delay_first_token": 0.2})
    start = time.monotonic()
    arrivals = []
    for c in stream(client):
        if c.choices and c.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
    assert arrivals[0] >= 0.2
    assert arrivals[-1] - arrivals[0] >= 4 * 0.02 * 0.8
    assert arrivals[-1] < 1.5


def test_tool_calls_stream_and_non_stream(fake, client):
    calls = [
        {"name": "get_weather", "arguments": json.dumps({"city": "Paris", "unit": "celsius"})},
        {"name": "noop", "arguments": "{}", "id": "call_x"},
    ]
    fake.script({"kind": "reply", "tool_calls": calls}, {"kind": "reply", "tool_calls": calls})
    assembled: dict[int, dict] = {}
    chunks = list(stream(client))
    for c in chunks:
        for tc in c.choices[0].delta.tool_calls or []:
            entry = assembled.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
            entry["id"] = tc.id or entry["id"]
            entry["name"] += tc.function.name or ""
            entry["arguments"] += tc.function.arguments or ""
    fragments = [c for c in chunks if c.choices[0].delta.tool_calls]
    assert len(fragments) > 2 * len(calls)
    assert [assembled[i]["name"] for i in (0, 1)] == ["get_weather", "noop"]
    assert json.loads(assembled[0]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert assembled[1]["id"] == "call_x" and assembled[0]["id"]
    assert finish_reasons(chunks) == ["tool_calls"]

    r = client.chat.completions.create(model="m", messages=USER)
    msg = r.choices[0].message
    assert msg.content is None and r.choices[0].finish_reason == "tool_calls"
    assert [t.function.name for t in msg.tool_calls] == ["get_weather", "noop"]
    assert msg.tool_calls[0].function.arguments == calls[0]["arguments"]


def test_n_choices(fake, client):
    fake.script({"kind": "reply", "text": "a b"}, {"kind": "reply", "text": "a b"})
    r = client.chat.completions.create(model="m", messages=USER, n=2)
    assert [c.message.content for c in r.choices] == ["a b", "a b (choice 1)"]
    chunks = list(stream(client, n=2))
    texts = ["", ""]
    for c in chunks:
        for ch in c.choices:
            texts[ch.index] += ch.delta.content or ""
    assert texts == ["a b", "a b (choice 1)"]
    assert finish_reasons(chunks) == ["stop", "stop"]
    indices = [c.choices[0].index for c in chunks if c.choices[0].delta.content]
    assert indices[:4] == [0, 1, 0, 1]


def test_models_listing_and_failure(fake, client):
    assert [m.id for m in client.models.list()] == DEFAULT_MODELS
    fake.set_models(["only-one"])
    assert [m.id for m in client.models.list()] == ["only-one"]
    fake.fail_models(503)
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    fake.fail_models(None)
    assert [m.id for m in client.models.list()] == ["only-one"]


def test_requests_are_recorded(fake, client):
    client.models.list()
    client.chat.completions.create(model="m", messages=USER, temperature=0.3)
    reqs = fake.requests
    assert [(r["method"], r["path"]) for r in reqs] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ]
    assert reqs[1]["headers"]["authorization"] == "Bearer k"
    assert reqs[1]["body"]["temperature"] == 0.3
    assert reqs[0]["body"] is None and reqs[0]["received_at"] <= time.time()
    reqs.clear()
    assert len(fake.requests) == 2
    assert fake.chat_requests() == [{"model": "m", "messages": USER, "temperature": 0.3}]


def test_unknown_path_is_openai_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.get("/nowhere", cast_to=object)
    assert info.value.body["type"] == "invalid_request_error"


def test_script_rejects_unknown_kind(fake):
    with pytest.raises(ValueError):
        fake.script({"kind": "explode"})


# errors


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (413, openai.APIStatusError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_error_status_maps_to_openai_exception(fake, client, status, exc, streaming):
    fake.script({"kind": "error", "status": status, "message": f"boom {status}"})
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="m", messages=USER, stream=streaming)
    assert type(info.value) is exc
    assert info.value.status_code == status
    assert info.value.message.startswith(f"Error code: {status}")
    assert info.value.body["message"] == f"boom {status}"


def test_rate_limit_headers_and_raw_body(fake, client):
    fake.script(
        {"kind": "error", "status": 429, "message": "slow down", "headers": {"Retry-After": "2"}},
        {"kind": "error", "status": 502, "body": "<html>bad gateway</html>"},
    )
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.body["code"] == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert info.value.status_code == 502
    assert info.value.response.text == "<html>bad gateway</html>"


def test_expected_key():
    with FakeAPI(expected_key="secret") as fake:
        fake.script({"kind": "reply", "text": "scripted"})
        bad = openai.OpenAI(base_url=fake.base_url, api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(model="m", messages=USER)
        assert info.value.code == "invalid_api_key"
        assert info.value.body["message"] == "Incorrect API key provided"
        good = openai.OpenAI(base_url=fake.base_url, api_key="secret", max_retries=0)
        # The rejected request did not consume the scripted behaviour.
        r = good.chat.completions.create(model="m", messages=USER)
        assert r.choices[0].message.content == "scripted"
        assert len(fake.chat_requests()) == 2


# transport failures


def test_hang_times_out(fake, client):
    fake.script({"kind": "hang", "seconds": 1.5})
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=USER, timeout=0.3)
    assert time.monotonic() - start < 1.2
    fake.script({"kind": "hang", "seconds": 0.1, "text": "late"})
    r = client.chat.completions.create(model="m", messages=USER, timeout=2)
    assert r.choices[0].message.content == "late"


def test_stall_times_out_mid_stream(fake, client):
    fake.script({"kind": "stall", "after_chunks": 2, "seconds": 1.5, "tokens": 10})
    got = []
    with pytest.raises(openai.APITimeoutError) as info:
        for c in stream(client, timeout=0.3):
            got.append(c)
    assert content_of(got) == "w0 w1 "
    assert type(info.value.__cause__).__name__ == "ReadTimeout"


def test_cut_raises_connection_error(fake, client):
    fake.script({"kind": "cut", "after_chunks": 3, "tokens": 10}, {"kind": "cut"})
    got = []
    with pytest.raises(openai.APIConnectionError) as info:
        for c in stream(client):
            got.append(c)
    assert type(info.value) is openai.APIConnectionError
    assert type(info.value.__cause__).__name__ == "RemoteProtocolError"
    assert "incomplete chunked read" in str(info.value.__cause__)
    assert content_of(got) == "w0 w1 w2 "
    with pytest.raises(openai.APIConnectionError) as info:
        client.chat.completions.create(model="m", messages=USER)
    assert type(info.value) is openai.APIConnectionError
    # The server survives and the client reconnects.
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content


def test_end_early_ends_without_finish_reason(fake, client):
    fake.script({"kind": "end_early", "after_chunks": 2, "tokens": 10})
    chunks = list(stream(client))
    assert content_of(chunks) == "w0 w1 "
    assert finish_reasons(chunks) == []


def test_malformed_event_raises_json_error(fake, client):
    fake.script({"kind": "malformed", "after_chunks": 2, "tokens": 10})
    got = []
    with pytest.raises(json.JSONDecodeError):
        for c in stream(client):
            got.append(c)
    assert content_of(got) == "w0 w1 "


def test_stream_error_event_raises_api_error(fake, client):
    fake.script({"kind": "stream_error", "after_chunks": 1, "message": "overloaded"})
    got = []
    with pytest.raises(openai.APIError) as info:
        for c in stream(client):
            got.append(c)
    assert type(info.value) is openai.APIError
    assert info.value.message == "overloaded"
    assert info.value.body == {"message": "overloaded", "type": "server_error"}
    assert content_of(got) == "Echo: "


def test_client_going_away_mid_stream_is_quiet(fake, client, capsys):
    fake.script({"kind": "reply", "tokens": 20000, "chunk_tokens": 1})
    s = stream(client)
    assert next(s).choices[0].delta.role == "assistant"
    next(s)
    s.close()
    fake.script({"kind": "cut", "after_chunks": 1})
    with pytest.raises(openai.APIConnectionError):
        list(stream(client))
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content
    time.sleep(0.2)
    assert capsys.readouterr().err == ""


def test_many_concurrent_streams(fake):
    fake.script(*[{"kind": "reply", "tokens": 20, "tokens_per_second": 200}] * 24)
    results: list[str] = []
    c = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0, timeout=5)

    def run() -> None:
        results.append(content_of(list(stream(c))))

    threads = [threading.Thread(target=run) for _ in range(24)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == ["".join(f"w{i} " for i in range(20))] * 24
    assert time.monotonic() - start < 2  # served concurrently, not one after another


# out of process


def test_cli_server_and_http_control():
    proc = subprocess.Popen(
        [sys.executable, "-m", "testbed.fake_api", "--port", "0", "--expected-key", "sk"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "fake API did not start"
        line = proc.stdout.readline().strip()
        assert line.startswith("FAKE_API_URL=http://127.0.0.1:")
        url = line.removeprefix("FAKE_API_URL=")
        assert url.endswith("/v1")
        ctl = FakeAPIControl(url)
        c = openai.OpenAI(base_url=url, api_key="sk", max_retries=0, timeout=5)

        ctl.script({"kind": "reply", "text": "remote"}, {"kind": "error", "status": 429})
        r = c.chat.completions.create(model="m", messages=USER)
        assert r.choices[0].message.content == "remote"
        with pytest.raises(openai.RateLimitError):
            c.chat.completions.create(model="m", messages=USER)
        ctl.set_models(["a", "b"])
        assert [m.id for m in c.models.list()] == ["a", "b"]
        ctl.fail_models(500)
        with pytest.raises(openai.InternalServerError):
            c.models.list()
        ctl.fail_models(None)
        assert [m.id for m in c.models.list()] == ["a", "b"]

        reqs = ctl.requests()
        assert [r["path"] for r in reqs] == ["/v1/chat/completions"] * 2 + ["/v1/models"] * 3
        assert reqs[0]["headers"]["authorization"] == "Bearer sk"
        assert ctl.chat_requests() == [{"model": "m", "messages": USER}] * 2
        ctl.reset()
        assert ctl.requests() == []
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key="nope", max_retries=0).models.list()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0
    assert out == "" and err == ""


def test_a_redirect_answers_with_its_location(fake):
    fake.script({"kind": "redirect", "location": "http://elsewhere.example/v1/x"})
    request = urllib.request.Request(fake.base_url + "/chat/completions", method="POST",
                                     data=b'{"model": "m", "messages": []}',
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(_NoRedirects)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(request, timeout=5)
    assert answer.value.code == 307
    assert answer.value.headers["Location"] == "http://elsewhere.example/v1/x"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# tool calls as the app reads them (ChatStream + ReplyAccumulator), and the fake model's rules

TOOLS = [{"type": "function", "function": {"name": n, "description": "", "parameters": {}}}
         for n in ("calculate", "current_time", "atlas__capital", "lookup")]


def folded(client, body: dict):
    from nexuschat.api import ChatStream
    from nexuschat.streaming import ReplyAccumulator

    acc = ReplyAccumulator()
    chunks = list(ChatStream(client, {"model": "m", "stream": True, **body}))
    for chunk in chunks:
        acc.add(chunk)
    acc.finish()
    return acc, chunks


@pytest.mark.parametrize("style", ["openai", "split_name", "interleaved", "whole", "no_index"])
def test_every_tool_call_style_assembles_to_the_same_calls(fake, client, style):
    calls = [{"id": "a", "name": "calculate", "arguments": '{"expression": "(2 + 3) * 4"}'},
             {"id": "b", "name": "current_time", "arguments": "{}"}]
    fake.script({"kind": "reply", "text": "Working on it.", "tool_calls": calls,
                 "tool_style": style})
    acc, chunks = folded(client, {"messages": USER})
    assert acc.text == "Working on it." and acc.meta().finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in acc.tool_calls] == [
        ("a", "calculate", '{"expression": "(2 + 3) * 4"}'), ("b", "current_time", "{}")]
    deltas = [d for c in chunks for ch in c["choices"]
              for d in ch["delta"].get("tool_calls") or ()]
    if style == "no_index":
        assert all("index" not in d for d in deltas)
    if style == "split_name":
        assert {"index": 0, "function": {"name": "ulate"}} in deltas
    if style == "interleaved":
        assert [d["index"] for d in deltas[:2]] == [0, 1]


def test_a_calculation_question_calls_the_calculator_and_results_get_an_answer(fake, client):
    ask = [{"role": "user", "content": "Please calculate 12 * 34 and calculate (1+2)/4"}]
    acc, _ = folded(client, {"messages": ask, "tools": TOOLS})
    assert [(c.name, json.loads(c.arguments)) for c in acc.tool_calls] == [
        ("calculate", {"expression": "12 * 34"}), ("calculate", {"expression": "(1+2)/4"})]
    assert acc.text == ""
    answered = [*ask, {"role": "assistant", "content": None,
                       "tool_calls": [c.to_openai() for c in acc.tool_calls]},
                {"role": "tool", "tool_call_id": acc.tool_calls[0].id, "content": "408"},
                {"role": "tool", "tool_call_id": acc.tool_calls[1].id, "content": "0.75"}]
    final, _ = folded(client, {"messages": answered, "tools": TOOLS})
    assert final.text == "The tools answered: 408; 0.75." and final.tool_calls == []
    # Without tools offered, or with tool_choice none, the same question is echoed.
    plain, _ = folded(client, {"messages": ask})
    assert plain.text.startswith("Echo: ") and plain.tool_calls == []
    never, _ = folded(client, {"messages": ask, "tools": TOOLS, "tool_choice": "none"})
    assert never.tool_calls == []


def test_other_triggers_and_forced_choices(fake, client):
    ask = [{"role": "user", "content": "What is the capital of Japan?"}]
    acc, _ = folded(client, {"messages": ask, "tools": TOOLS})
    assert [(c.name, c.arguments) for c in acc.tool_calls] == [
        ("atlas__capital", '{"country": "Japan"}')]
    mine = [{"role": "user", "content": 'call lookup with {"q": "x"}'}]
    acc, _ = folded(client, {"messages": mine, "tools": TOOLS})
    assert [(c.name, c.arguments) for c in acc.tool_calls] == [("lookup", '{"q": "x"}')]
    hello = [{"role": "user", "content": "hello"}]
    forced = {"type": "function", "function": {"name": "current_time"}}
    acc, _ = folded(client, {"messages": hello, "tools": TOOLS, "tool_choice": forced})
    assert [(c.name, c.arguments) for c in acc.tool_calls] == [("current_time", "{}")]
    acc, _ = folded(client, {"messages": hello, "tools": TOOLS, "tool_choice": "required"})
    assert [c.name for c in acc.tool_calls] == ["calculate"]
    acc, _ = folded(client, {"messages": hello, "tools": TOOLS})
    assert acc.tool_calls == [] and acc.text == "Echo: hello"
