"""The client seam against the fake server: real HTTP, real SSE, real openai client."""

import socket

import pytest

from nexuschat.api import (
    ChatError,
    ChatStream,
    build_body,
    list_models,
    make_client,
    redact,
    sse_data,
)
from nexuschat.config import Settings
from nexuschat.params import GenerationParams
from nexuschat.streaming import ReplyAccumulator

KEY = "sk-test-secret-0123456789"


def settings_for(fake, **kw) -> Settings:
    return Settings(base_url=fake.base_url, api_key=KEY, model="claude-sonnet-4-6", **kw)


def run(fake, body=None, **settings_kw) -> ReplyAccumulator:
    client = make_client(settings_for(fake, **settings_kw))
    body = body or build_body("claude-sonnet-4-6", [{"role": "user", "content": "hi there"}],
                              GenerationParams())
    reply = ReplyAccumulator()
    try:
        for chunk in ChatStream(client, body):
            reply.add(chunk)
    finally:
        client.close()
    return reply


def failure(fake, **settings_kw) -> ChatError:
    with pytest.raises(ChatError) as info:
        run(fake, **settings_kw)
    assert KEY not in str(info.value) and KEY not in repr(info.value.params)
    return info.value


def test_body_has_model_messages_streaming_and_only_set_fields():
    body = build_body("m", [{"role": "user", "content": "x"}], GenerationParams(max_tokens=9))
    assert body == {"model": "m", "messages": [{"role": "user", "content": "x"}],
                    "max_tokens": 9, "stream": True,
                    "stream_options": {"include_usage": True}}


def test_streams_text_usage_and_finish_reason(fake_api):
    reply = run(fake_api)
    assert reply.text == "Echo: hi there"
    assert reply.finish_reason == "stop" and reply.complete
    assert reply.usage == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5,
                           "reasoning_tokens": None}
    assert reply.model == "claude-sonnet-4-6"
    (sent,) = fake_api.chat_requests()
    assert sent["stream_options"] == {"include_usage": True}
    assert fake_api.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"


def test_server_ignoring_stream_options_leaves_usage_unknown(fake_api):
    fake_api.script({"kind": "reply", "ignore_stream_options": True})
    reply = run(fake_api)
    assert reply.complete and reply.usage is None and reply.meta().has_usage is False


def test_server_rejecting_stream_options_is_asked_again_without(fake_api):
    fake_api.script({"kind": "error", "status": 400,
                     "message": "Unrecognized request argument: stream_options"})
    reply = run(fake_api)
    assert reply.text == "Echo: hi there"
    first, second = fake_api.chat_requests()
    assert "stream_options" in first and "stream_options" not in second


def test_finish_reason_length_is_kept(fake_api):
    fake_api.script({"kind": "reply", "text": "cut short", "finish_reason": "length"})
    assert run(fake_api).finish_reason == "length"


@pytest.mark.parametrize("status, code", [
    (401, "error.auth"), (403, "error.permission"), (404, "error.not_found"),
    (413, "error.too_large"), (400, "error.invalid"), (422, "error.invalid"),
    (500, "error.server"), (502, "error.server"), (503, "error.server"), (418, "error.http"),
])
def test_status_codes_map_to_messages(fake_api, status, code):
    fake_api.script({"kind": "error", "status": status, "message": f"nope {status}"})
    error = failure(fake_api)
    assert (error.code, error.status) == (code, status)
    assert error.params["message"] == f"nope {status}"


def test_rate_limit_carries_retry_after(fake_api):
    fake_api.script({"kind": "error", "status": 429, "message": "slow down",
                     "headers": {"Retry-After": "7"}})
    error = failure(fake_api)
    assert error.code == "error.rate_limited" and error.retry_after == 7


def test_rate_limit_retry_after_as_http_date(fake_api):
    fake_api.script({"kind": "error", "status": 429, "message": "slow",
                     "headers": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}})
    assert failure(fake_api).retry_after == 0  # a date in the past: no wait


def test_server_messages_never_echo_the_key(fake_api):
    fake_api.script({"kind": "error", "status": 401,
                     "message": f"Incorrect API key provided: {KEY}"})
    error = failure(fake_api)
    assert error.code == "error.auth" and "***" in error.params["message"]


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    client = make_client(Settings(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY))
    with pytest.raises(ChatError) as info:
        list(ChatStream(client, build_body("m", [], GenerationParams())))
    assert info.value.code == "error.connection"
    assert info.value.params["host"] == "127.0.0.1"


def test_connect_timeout():
    # A listening socket with a full backlog never completes the handshake.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(8):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        client = make_client(Settings(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY,
                                      connect_timeout=0.3))
        try:
            with pytest.raises(ChatError) as info:
                list(ChatStream(client, build_body("m", [], GenerationParams())))
        finally:
            for c in fillers:
                c.close()
    assert info.value.code in ("error.connect_timeout", "error.read_timeout")


def test_read_timeout_before_headers(fake_api):
    fake_api.script({"kind": "hang", "seconds": 2})
    assert failure(fake_api, read_timeout=0.3).code == "error.read_timeout"


def test_read_timeout_mid_stream_keeps_what_arrived(fake_api):
    fake_api.script({"kind": "stall", "after_chunks": 2, "seconds": 2})
    reply = ReplyAccumulator()
    client = make_client(settings_for(fake_api, read_timeout=0.3))
    with pytest.raises(ChatError) as info:
        for chunk in ChatStream(client, build_body("m", [{"role": "user", "content": "a b c"}],
                                                   GenerationParams())):
            reply.add(chunk)
    assert info.value.code == "error.read_timeout"
    assert reply.text == "Echo: a " and not reply.complete


def test_cut_stream(fake_api):
    fake_api.script({"kind": "cut", "after_chunks": 2})
    assert failure(fake_api).code == "error.stream_cut"


def test_stream_ending_without_finish_reason_is_incomplete(fake_api):
    fake_api.script({"kind": "end_early", "after_chunks": 2})
    reply = run(fake_api)
    assert reply.text == "Echo: hi " and not reply.complete


def test_malformed_chunk(fake_api):
    fake_api.script({"kind": "malformed", "after_chunks": 1})
    assert failure(fake_api).code == "error.malformed"


def test_error_event_inside_the_stream(fake_api):
    fake_api.script({"kind": "stream_error", "after_chunks": 1, "message": "overloaded"})
    error = failure(fake_api)
    assert error.code == "error.stream_error" and error.params["message"] == "overloaded"


def test_closing_the_stream_stops_reading(fake_api):
    fake_api.script({"kind": "reply", "tokens": 5000, "tokens_per_second": 2000})
    client = make_client(settings_for(fake_api))
    stream = ChatStream(client, build_body("m", [], GenerationParams()))
    got = 0
    for _ in stream:
        got += 1
        if got == 5:
            stream.close()
            break
    assert got == 5


def test_list_models_and_its_failure(fake_api):
    client = make_client(settings_for(fake_api))
    assert "qwen-vl-max" in list_models(client)
    fake_api.fail_models(500)
    with pytest.raises(ChatError) as info:
        list_models(client)
    assert info.value.code == "error.server"


def test_redact_masks_the_key_and_key_shapes():
    assert redact(f"bad {KEY} here", KEY) == "bad *** here"
    assert redact("token sk-abcdef123456 leaked") == "token sk-*** leaked"


def test_sse_data_splits_events_only_at_line_ends():
    body = ('data: {"a": "x\u2028y"}\r\n\r\n: keep-alive\n\nevent: delta\ndata: 1\ndata: 2\n\n'
            'data: [DONE]\n\ndata: after\n\n').encode()
    for size in (1, 2, 3, 7, len(body)):  # every way the network may cut it, CRLF split too
        pieces = [body[i:i + size] for i in range(0, len(body), size)]
        assert list(sse_data(pieces)) == ['{"a": "x\u2028y"}'.encode(), b"1\n2"]


def test_sse_data_keeps_a_last_event_without_its_blank_line():
    assert list(sse_data([b"data:{}\r\rdata: {\"b\": 1}"])) == [b"{}", b'{"b": 1}']
    assert list(sse_data([b"data: [DONE]"])) == []


def test_chunks_are_plain_dicts(fake_api):
    client = make_client(settings_for(fake_api))
    chunks = list(ChatStream(client, build_body("m", [{"role": "user", "content": "x"}],
                                                GenerationParams())))
    assert chunks and all(type(c) is dict for c in chunks)
    assert chunks[-1]["usage"]["total_tokens"] > 0
