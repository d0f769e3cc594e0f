"""The client seam against the fake server: real HTTP, real SSE, real openai client."""

import json
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
from nexuschat.machine import free_port
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
                           "reasoning_tokens": None, "cached_tokens": None}
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
    port = free_port()  # nothing listens there
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


# --- replies as gateways send them, over real HTTP --------------------------------------------


def ask(fake, body=None, **settings_kw) -> ReplyAccumulator:
    return run(fake, body, **settings_kw)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "both",
                                   "reasoning_details", "thinking_parts"])
def test_reasoning_of_every_kind_is_kept_apart(fake_api, field):
    fake_api.script({"kind": "reply", "reasoning": "Think first, then answer.",
                     "text": "The answer.", "reasoning_field": field})
    reply = ask(fake_api)
    assert reply.reasoning == "Think first, then answer."
    assert reply.text == "The answer." and reply.complete
    assert reply.meta().reasoning_tokens == 4  # completion_tokens_details.reasoning_tokens


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking_parts"])
def test_reasoning_in_a_whole_completion(fake_api, field):
    fake_api.script({"kind": "reply", "reasoning": "Hmm.", "text": "Yes.",
                     "reasoning_field": field, "json_body": True})
    reply = ask(fake_api)
    assert (reply.reasoning, reply.text, reply.finish_reason) == ("Hmm.", "Yes.", "stop")


def test_content_parts_are_joined_and_unknown_ones_noted(fake_api):
    fake_api.script({"kind": "reply", "text": "two words", "content_parts": True,
                     "extra_parts": [{"type": "image_url",
                                      "image_url": {"url": "https://img.example/a.png"}}]})
    reply = ask(fake_api)
    assert reply.text == "two words" and reply.complete
    assert reply.meta().skipped_parts == ("image_url",)


def test_a_refusal_arrives_as_the_reply(fake_api):
    fake_api.script({"kind": "reply", "refusal": "I can't help with that request."})
    reply = ask(fake_api)
    assert reply.content == "I can't help with that request." and reply.text == ""
    assert reply.complete and reply.meta().refusal


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "text/plain", ""])
def test_a_json_completion_for_a_streaming_request_is_a_complete_reply(fake_api, content_type):
    fake_api.script({"kind": "reply", "text": "Whole at once.", "json_body": True,
                     "finish_reason": "end_turn", "content_type": content_type})
    reply = ask(fake_api)
    assert reply.text == "Whole at once." and reply.complete
    meta = reply.meta()
    assert (meta.finish_reason, meta.raw_finish_reason) == ("stop", "end_turn")
    assert meta.has_usage and meta.completion_tokens == 3


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_an_event_stream_under_another_content_type_still_streams(fake_api, content_type):
    fake_api.script({"kind": "raw", "content_type": content_type, "events": [
        {"choices": [{"index": 0, "delta": {"content": "still "}}]},
        {"choices": [{"index": 0, "delta": {"content": "streams"}, "finish_reason": "stop"}]}]})
    reply = ask(fake_api)
    assert reply.text == "still streams" and reply.complete


def test_a_json_body_with_a_byte_order_mark_and_an_event_stream_type(fake_api):
    body = "\ufeff" + json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"content": "marked"}}]})
    fake_api.script({"kind": "error", "status": 200, "body": body,
                     "content_type": "text/event-stream"})
    assert ask(fake_api).text == "marked"


def test_a_json_error_in_a_200_body_is_a_stream_error(fake_api):
    fake_api.script({"kind": "raw", "events": [], "done": False})  # an empty stream
    assert not ask(fake_api).complete
    fake_api.script({"kind": "error", "status": 200,
                     "body": {"error": {"message": "quota exhausted"}}})
    error = failure(fake_api)
    assert error.code == "error.stream_error" and error.params["message"] == "quota exhausted"


@pytest.mark.parametrize("raw, normalized", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("eos", "stop"),
    ("max_tokens", "length"), ("MAX_TOKENS", "length"), ("tool_use", "tool_calls"),
])
def test_finish_reasons_of_other_backends(fake_api, raw, normalized):
    fake_api.script({"kind": "reply", "text": "x", "finish_reason": raw})
    meta = ask(fake_api).meta()
    assert (meta.finish_reason, meta.raw_finish_reason) == (normalized, raw)


NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             "</body>\r\n</html>\r\n")


@pytest.mark.parametrize("status, body, content_type, message", [
    (400, {"error": {"message": "bad model", "type": "invalid_request_error"}},
     "application/json", "bad model"),
    (404, {"error": "model 'qwen9' not found, try pulling it first"}, "application/json",
     "model 'qwen9' not found, try pulling it first"),
    (403, {"message": "Forbidden"}, "application/json", "Forbidden"),
    (400, {"error": {"message": {"error": "nested object"}}}, "application/json",
     "nested object"),
    (422, {"detail": [{"type": "missing", "loc": ["body", "messages"], "msg": "Field required",
                       "input": {}}]}, "application/json", "messages: Field required"),
    (400, [{"error": {"code": 400, "message": "API key not valid",
                      "status": "INVALID_ARGUMENT"}}], "application/json", "API key not valid"),
    (500, "Internal Server Error", "text/plain", "Internal Server Error"),
    (502, NGINX_502, "text/html", "502 Bad Gateway"),
    (503, NGINX_502.replace("502 Bad Gateway", "503 Service Temporarily Unavailable"), "",
     "503 Service Temporarily Unavailable"),
])
def test_error_bodies_of_every_shape_read_shortly(fake_api, status, body, content_type,
                                                   message):
    fake_api.script({"kind": "error", "status": status, "body": body,
                     "content_type": content_type})
    error = failure(fake_api)
    assert error.status == status and error.params["message"] == message
    assert "\r" not in error.params["message"] and "<" not in error.params["message"]


def test_a_long_html_page_is_cut_short(fake_api):
    page = "<html><body><h1>" + "Bad gateway " * 200 + "</h1>" + "<p>x</p>" * 5000 + "</html>"
    fake_api.script({"kind": "error", "status": 502, "body": page, "content_type": "text/html"})
    message = failure(fake_api).params["message"]
    assert len(message) <= 300 and message.startswith("Bad gateway Bad gateway")


@pytest.mark.parametrize("status, body", [
    (400, {"error": {"message": "Unrecognized request argument supplied: stream_options"}}),
    (400, {"error": "stream_options is not supported"}),
    (422, {"detail": [{"type": "extra_forbidden", "loc": ["body", "stream_options"],
                       "msg": "Extra inputs are not permitted",
                       "input": {"include_usage": True}}]}),
    (422, {"detail": [{"loc": ["body", "stream_options"], "msg": "extra fields not permitted",
                       "type": "value_error.extra"}]}),  # pydantic 1
    (400, {"error": {"message": {"detail": "unknown field stream_options"}}}),
    (400, {"object": "error", "message": "[{'type': 'extra_forbidden', 'loc': ('body', "
                                         "'stream_options')}]", "code": 400}),  # vLLM
    (400, "Unknown parameter: stream_options"),
])
def test_a_refused_stream_options_is_retried_without_it_whatever_the_body(fake_api, status,
                                                                           body):
    fake_api.script({"kind": "error", "status": status, "body": body,
                     "content_type": "application/json" if not isinstance(body, str)
                     else "text/plain"})
    reply = ask(fake_api)
    assert reply.text == "Echo: hi there" and reply.complete
    first, second = fake_api.chat_requests()
    assert "stream_options" in first and "stream_options" not in second


def test_another_422_is_not_retried(fake_api):
    fake_api.script({"kind": "error", "status": 422, "body": {"detail": [
        {"type": "less_than", "loc": ["body", "temperature"], "msg": "Input should be less "
         "than 2", "input": 5}]}})
    error = failure(fake_api)
    assert error.params["message"] == "temperature: Input should be less than 2"
    assert len(fake_api.chat_requests()) == 1


@pytest.mark.parametrize("event, message", [
    ({"error": {"message": "overloaded", "type": "server_error"}}, "overloaded"),
    ({"error": "plain string error"}, "plain string error"),
    ({"error": {"message": {"detail": "nested"}}}, "nested"),
    ({"error": {"code": 529}, "message": "Overloaded"}, "Overloaded"),
])
def test_error_events_of_every_shape_keep_the_text_before_them(fake_api, event, message):
    fake_api.script({"kind": "raw", "events": [
        {"choices": [{"index": 0, "delta": {"content": "partial "}}]}, event]})
    reply = ReplyAccumulator()
    client = make_client(settings_for(fake_api))
    with pytest.raises(ChatError) as info:
        for chunk in ChatStream(client, build_body("m", [], GenerationParams())):
            reply.add(chunk)
    assert info.value.code == "error.stream_error" and info.value.params["message"] == message
    assert reply.text == "partial "


@pytest.mark.parametrize("event", ["{not json", "[1, 2]", "42", '"text"', "null"])
def test_events_that_are_not_chunks_are_clear_errors(fake_api, event):
    fake_api.script({"kind": "raw", "events": [
        {"choices": [{"index": 0, "delta": {"content": "kept"}}]}, event]})
    reply = ReplyAccumulator()
    client = make_client(settings_for(fake_api))
    with pytest.raises(ChatError) as info:
        for chunk in ChatStream(client, build_body("m", [], GenerationParams())):
            reply.add(chunk)
    assert info.value.code == "error.malformed" and reply.text == "kept"


def test_thinking_switch_and_budget_go_in_the_body_only_when_set(fake_api):
    messages = [{"role": "user", "content": "hi"}]
    for params, thinking in [(GenerationParams(thinking=True, thinking_budget=500), "budget"),
                             (GenerationParams(thinking=False, thinking_budget=500), "budget"),
                             (GenerationParams(thinking=True, thinking_budget=500), "switch"),
                             (GenerationParams(), "budget"),
                             (GenerationParams(thinking=True), None)]:
        ask(fake_api, build_body("qwen3.5-plus", messages, params, thinking=thinking))
    sent = [{k: b[k] for k in ("enable_thinking", "thinking_budget") if k in b}
            for b in fake_api.chat_requests()]
    assert sent == [{"enable_thinking": True, "thinking_budget": 500},
                    {"enable_thinking": False}, {"enable_thinking": True}, {}, {}]
