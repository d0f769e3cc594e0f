"""Reading what gateways send: deltas and messages of every shape, finish reasons, error bodies.

The shapes are our own fixtures, modelled on the servers' published documentation and on
other projects' recordings of real servers (see nexuschat/gateway.py for which is whose).
"""

import pytest

from nexuschat.gateway import (
    error_message,
    html_message,
    normalize_finish_reason,
    read_delta,
    read_usage,
    text_message,
)

# ---------------------------------------------------------------- reasoning and content


@pytest.mark.parametrize("delta, reasoning", [
    ({"content": None, "reasoning_content": "Let me think"}, "Let me think"),  # DeepSeek, Qwen
    ({"role": "assistant", "content": "", "reasoning_content": ""}, ""),  # the opening chunk
    ({"reasoning": "Hmm"}, "Hmm"),  # OpenRouter, Ollama
    # vLLM while renaming the field: the same text under both names, counted once
    ({"reasoning": "once", "reasoning_content": "once"}, "once"),
    # OpenRouter sends the plain field and the detailed list together: counted once
    ({"reasoning": "a step", "reasoning_details": [
        {"type": "reasoning.text", "text": "a step", "format": "unknown", "index": 0}]},
     "a step"),
    ({"reasoning_details": [{"type": "reasoning.summary", "summary": "in short"},
                            {"type": "reasoning.encrypted", "data": "c2VjcmV0"}]}, "in short"),
    ({"thinking_blocks": [{"type": "thinking", "thinking": "blocks", "signature": "x"}]},
     "blocks"),  # LiteLLM, for Anthropic models
    # Mistral's reasoning models: thinking parts holding text parts
    ({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Okay, the"}],
                   "closed": True}]}, "Okay, the"),
    ({"content": [{"type": "thinking", "thinking": "plain string", "signature": "s"}]},
     "plain string"),  # Anthropic-style block
    ({"content": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "sum"}]}]},
     "sum"),  # Responses-style item
    ({"content": [{"type": "redacted_thinking", "data": "opaque"}]}, ""),
])
def test_reasoning_from_every_shape(delta, reasoning):
    text, got, refusal, skipped = read_delta(delta)
    assert got == reasoning
    assert (text, refusal, skipped) == ("", "", ())


def test_content_parts_are_joined_and_reasoning_kept_apart():
    # Mistral: the last thinking piece and the first answer piece in one delta
    delta = {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "1."}]},
                         {"type": "text", "text": "3"}, {"type": "text", "text": "91"}]}
    assert read_delta(delta) == ("391", "1.", "", ())


def test_unknown_parts_are_noted_by_type_and_bare_strings_are_text():
    delta = {"content": [{"type": "image_url", "image_url": {"url": "data:,"}}, "plain ",
                         {"text": "untyped"}, {"type": 7}, None, 3,
                         {"type": "output_text", "text": "!"}]}
    text, reasoning, refusal, skipped = read_delta(delta)
    assert text == "plain untyped!"
    assert skipped == ("image_url", "?")


def test_a_single_part_object_instead_of_a_list():
    assert read_delta({"content": {"type": "text", "text": "alone"}})[0] == "alone"


@pytest.mark.parametrize("delta", [
    {"content": None, "refusal": "I can't help with that."},
    {"content": [{"type": "refusal", "refusal": "I can't help with that."}]},
])
def test_refusals(delta):
    assert read_delta(delta) == ("", "", "I can't help with that.", ())


@pytest.mark.parametrize("delta", [
    {"content": 5}, {"content": True}, {"reasoning_content": ["x"]}, {"refusal": {"a": 1}},
    {"content": [[[[["deep"]]]]]}, {"reasoning_details": "not a list"}, {},
])
def test_odd_values_carry_nothing(delta):
    text, reasoning, refusal, _ = read_delta(delta)
    assert (text, reasoning, refusal) == ("", "", "")


def test_deep_nesting_is_bounded():
    part: object = {"type": "text", "text": "bottom"}
    for _ in range(5000):
        part = {"type": "thinking", "thinking": [part]}
    assert read_delta({"content": [part]})[1] == ""


def test_usage_with_reasoning_tokens():
    usage = {"prompt_tokens": 6, "completion_tokens": 92, "total_tokens": 98,
             "completion_tokens_details": {"reasoning_tokens": 81},
             "prompt_cache_hit_tokens": 0}  # DeepSeek's cache hits: none here
    assert read_usage(usage) == {"prompt_tokens": 6, "completion_tokens": 92,
                                 "total_tokens": 98, "reasoning_tokens": 81, "cached_tokens": 0}
    assert read_usage({"reasoning_tokens": 3.0})["reasoning_tokens"] == 3
    assert read_usage({"prompt_tokens": True, "completion_tokens": -1,
                       "total_tokens": 10**20}) == {
        "prompt_tokens": None, "completion_tokens": None, "total_tokens": None,
        "reasoning_tokens": None, "cached_tokens": None}
    assert read_usage("12") is None


# ---------------------------------------------------------------- finish reasons


@pytest.mark.parametrize("raw, normalized", [
    ("stop", "stop"), ("end_turn", "stop"), ("stop_sequence", "stop"), ("eos", "stop"),
    ("STOP", "stop"),  # Gemini
    ("length", "length"), ("max_tokens", "length"), ("MAX_TOKENS", "length"),
    ("model_length", "length"),  # Mistral
    ("tool_calls", "tool_calls"), ("tool_use", "tool_calls"), ("function_call", "tool_calls"),
    ("content_filter", "content_filter"), ("SAFETY", "content_filter"),
    ("refusal", "content_filter"),  # Anthropic
    ("abort", "abort"), ("FINISH_REASON_UNSPECIFIED", "FINISH_REASON_UNSPECIFIED"),
    ("", None), (None, None),
])
def test_finish_reasons_are_normalized(raw, normalized):
    assert normalize_finish_reason(raw) == normalized
    assert normalize_finish_reason(normalized) == normalized  # idempotent


# ---------------------------------------------------------------- error bodies

NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             "</body>\r\n</html>\r\n")


@pytest.mark.parametrize("body, message", [
    ({"error": {"message": "Invalid model", "type": "invalid_request_error", "code": None}},
     "Invalid model"),  # OpenAI
    ({"error": "model 'x' not found, try pulling it first"},
     "model 'x' not found, try pulling it first"),  # Ollama
    ({"message": "Forbidden"}, "Forbidden"),  # API gateways
    ({"object": "error", "message": "Rate limit", "type": "BadRequestError", "code": 400},
     "Rate limit"),  # vLLM
    ({"error": {"message": {"error": {"message": "upstream said no"}}}}, "upstream said no"),
    ({"message": {"detail": "nested detail"}}, "nested detail"),
    ({"detail": "Not Found"}, "Not Found"),  # FastAPI
    ({"detail": [{"type": "extra_forbidden", "loc": ["body", "stream_options"],
                  "msg": "Extra inputs are not permitted", "input": {"include_usage": True}}]},
     "stream_options: Extra inputs are not permitted"),  # FastAPI / pydantic validation
    ([{"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}}],
     "API key not valid"),  # Gemini's OpenAI endpoint: a list
    ({"error": {"message": '{"error": {"message": "wrapped"}}'}}, "wrapped"),  # LiteLLM
    ({"error": {"code": "DeploymentNotFound"}}, "DeploymentNotFound"),
    ({"Message": "Capitalized"}, "Capitalized"),
    ({"error": {"message": ""}, "detail": "fallback"}, "fallback"),
    ({"unrelated": 1}, ""), (None, ""), (42, ""), ([], ""),
])
def test_error_bodies_give_one_readable_message(body, message):
    assert error_message(body) == message


def test_text_bodies_plain_json_and_html():
    assert text_message("Internal Server Error\n") == "Internal Server Error"
    assert text_message('{"error": "as text"}') == "as text"
    assert text_message(NGINX_502, "text/html") == "502 Bad Gateway"
    assert text_message(NGINX_502) == "502 Bad Gateway"  # no content type: the tags tell
    assert error_message(NGINX_502.encode()) == "502 Bad Gateway"
    assert "\r" not in text_message("upstream connect error or disconnect/reset\r\n before "
                                    "headers")


def test_html_without_a_title_gives_its_heading_or_its_text():
    assert html_message("<body><h2>Service &amp; Unavailable</h2><p>x</p></body>") == \
        "Service & Unavailable"
    assert html_message("<html><head><style>p{}</style></head><body><p>Just\n\n text"
                        "</p><script>alert(1)</script></body></html>") == "Just text"
    assert html_message("<title> </title><h1>Heading</h1>") == "Heading"


def test_messages_are_bounded():
    long = {"error": {"message": "x" * 5000}}
    assert len(error_message(long)) == 300 and error_message(long).endswith("…")
    assert len(error_message(long, limit=None)) == 5000
    page = "<html><title>" + "502 " * 2000 + "</title></html>"
    assert len(error_message(page)) <= 300


def test_deeply_nested_error_bodies_are_bounded():
    body: object = "bottom"
    for _ in range(3000):
        body = {"error": body}
    assert error_message(body) == ""
    assert error_message("[" * 100_000) == "[" * 299 + "…"  # not JSON: shown as text
