"""Reducers and pacing over plain chunk dicts (the SDK's objects behave the same)."""

import contextlib
import json
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from nexuschat.api import ChatError, decode_chunk
from nexuschat.store import meta_from_json, meta_to_json
from nexuschat.streaming import ReplyAccumulator, paced


def chunk(content=None, finish=None, index=0, usage=None, tool_calls=None, model="m"):
    delta = {}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    choices = [] if usage else [{"index": index, "delta": delta, "finish_reason": finish}]
    return {"model": model, "choices": choices, "usage": usage}


def test_text_finish_reason_and_usage():
    acc = ReplyAccumulator()
    for c in [chunk(""), chunk("Hel"), chunk("lo"), chunk(finish="length"),
              chunk(usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})]:
        acc.add(c)
    acc.finish()
    meta = acc.meta()
    assert acc.text == "Hello" and acc.complete
    assert (meta.finish_reason, meta.prompt_tokens, meta.completion_tokens,
            meta.total_tokens) == ("length", 3, 2, 5)
    assert meta.ttft_s is not None and meta.duration_s >= meta.ttft_s


def test_cut_stream_has_no_finish_reason_and_no_usage():
    acc = ReplyAccumulator()
    acc.add(chunk("partial"))
    meta = acc.meta(status="error", error_code="error.stream_cut")
    assert not acc.complete and not meta.has_usage and meta.status == "error"
    assert meta.tokens_per_s is None


def test_usage_arrives_after_finish_reason_or_never():
    acc = ReplyAccumulator()
    acc.add(chunk("x", finish="stop"))
    assert acc.usage is None
    acc.add(chunk(usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}))
    assert acc.usage["total_tokens"] == 2


def test_choices_are_kept_apart():
    acc = ReplyAccumulator()
    for c in [chunk("a", index=0), chunk("b", index=1), chunk("c", index=0),
              chunk(finish="stop", index=1)]:
        acc.add(c)
    assert (acc.text, acc.choice_text(1)) == ("ac", "b")
    assert acc.finish_reason is None  # only choice 0 decides


def test_tool_call_fragments_assemble():
    acc = ReplyAccumulator()
    acc.add(chunk(tool_calls=[{"index": 0, "id": "call_1", "type": "function",
                                "function": {"name": "weather", "arguments": ""}}]))
    acc.add(chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]))
    acc.add(chunk(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]))
    acc.add(chunk(finish="tool_calls"))
    (call,) = acc.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_1", "weather", '{"city": "Paris"}')
    assert acc.first_token_at is not None


def test_tokens_per_second_from_usage_and_timings():
    acc = ReplyAccumulator(started_at=0.0)
    acc.first_token_at, acc.ended_at = 1.0, 3.0
    acc.usage = {"prompt_tokens": 1, "completion_tokens": 100, "total_tokens": 101}
    assert acc.meta().tokens_per_s == 50
    assert acc.meta().ttft_s == 1.0


def test_paced_folds_every_item_but_ticks_by_time():
    got = []
    ticks = list(paced(iter(range(2000)), got.append, interval=0.05))
    assert got == list(range(2000))
    assert ticks[-1] == 2000 and ticks == sorted(ticks)
    assert len(ticks) < 50  # thousands of items, a handful of repaints


def test_paced_ticks_while_the_source_is_silent():
    release = threading.Event()

    def slow():
        yield 1
        release.wait(2)
        yield 2

    got, quiet_ticks = [], 0
    for count in paced(slow(), got.append, interval=0.02):
        quiet_ticks += count == 1
        if quiet_ticks == 3:
            release.set()
    assert got == [1, 2] and quiet_ticks >= 3


def test_paced_reraises_the_source_failure_after_its_items():
    def failing():
        yield "a"
        raise ChatError("error.stream_cut")

    got, ticks = [], []
    with pytest.raises(ChatError):
        for count in paced(failing(), got.append, interval=0.01):
            ticks.append(count)
    assert got == ["a"] and ticks[-1] == 1


def test_closing_paced_closes_the_source():
    class Source:
        closed = False

        def __iter__(self):
            while not self.closed:
                time.sleep(0.005)
                yield 1

        def close(self):
            self.closed = True

    source = Source()
    gen = paced(source, lambda item: None, interval=0.01)
    next(gen)
    gen.close()
    assert source.closed


def test_paced_yields_a_first_item_at_once_not_on_the_next_tick():
    seen_first = threading.Event()

    def source():
        yield "first"
        if not seen_first.wait(2):  # a consumer held back by a 10 s clock never gets here
            raise AssertionError("the first item waited for the clock")
        yield "second"

    counts = []
    for count in paced(source(), lambda item: None, interval=10):
        counts.append(count)
        if count == 1:
            seen_first.set()
    assert counts[-1] == 2


def test_paced_repaints_at_most_once_per_interval_while_items_flow():
    def steady():
        for i in range(300):
            time.sleep(0.001)
            yield i

    changes, last = [], -1
    for count in paced(steady(), lambda item: None, interval=0.03):
        if count != last:
            changes.append(time.monotonic())
            last = count
    gaps = [b - a for a, b in zip(changes, changes[1:-1], strict=False)]  # the final yield is free
    assert len(changes) > 3 and min(gaps) >= 0.03 * 0.95


def test_chunks_without_anything_to_show_do_not_wake_the_consumer():
    acc = ReplyAccumulator()
    assert acc.add({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}) is False
    assert acc.add({"choices": [], "usage": {"prompt_tokens": 1}}) is False
    assert acc.add({"choices": [{"index": 0, "delta": {"content": "x"}}]}) is True
    assert acc.add({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) is True


def test_a_silent_first_item_does_not_use_up_the_leading_edge():
    seen_text = threading.Event()

    def source():
        yield "role"  # folded as nothing to show
        yield "text"
        if not seen_text.wait(2):  # a consumer that spent its edge on "role" waits 10 s
            raise AssertionError("the first text waited for the clock")

    counts = []
    for count in paced(source(), lambda item: item != "role", interval=10):
        counts.append(count)
        if count == 2:
            seen_text.set()
    assert counts[-1] == 2


# --- reasoning, content parts, refusals, whole completions -----------------------------------


def delta_chunk(**delta):
    return {"model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def test_reasoning_is_kept_apart_and_its_first_token_is_the_first_token():
    acc = ReplyAccumulator()
    acc.add(delta_chunk(role="assistant", content="", reasoning_content=""))
    assert acc.first_token_at is None  # an empty opening chunk shows nothing
    assert acc.add(delta_chunk(content=None, reasoning_content="Let me "))
    first = acc.first_token_at
    assert first is not None and not acc.answering
    acc.add(delta_chunk(reasoning_content="think."))
    acc.add(delta_chunk(content="Four."))
    acc.add({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12,
                       "completion_tokens_details": {"reasoning_tokens": 6}}})
    acc.finish()
    assert (acc.text, acc.reasoning, acc.content) == ("Four.", "Let me think.", "Four.")
    assert acc.first_token_at == first and acc.answering
    assert (acc.reasoning_chars, acc.text_chars) == (13, 5)
    meta = acc.meta()
    assert meta.reasoning_tokens == 6 and meta.completion_tokens == 9
    assert meta.reasoning_s is not None and 0 <= meta.reasoning_s <= meta.duration_s
    assert meta.ttft_s <= meta.reasoning_s + meta.ttft_s <= meta.duration_s


def test_reasoning_time_runs_until_the_answer_starts():
    acc = ReplyAccumulator(started_at=0.0)
    acc.add(delta_chunk(reasoning="a"))
    acc.reasoning_started_at, acc.ended_at = 1.0, 9.0
    assert acc.reasoning_seconds() == 8.0  # no answer: until the end
    acc.add(delta_chunk(content="b"))
    acc.answer_started_at = 4.0
    assert acc.reasoning_seconds() == 3.0


def test_mistral_content_parts_are_joined_with_thinking_apart():
    acc = ReplyAccumulator()
    for delta in (
        {"role": "assistant", "content": ""},
        {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "17 * 23"}]}]},
        {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": " = 391."}]},
                     {"type": "text", "text": "3"}]},
        {"content": "91"},
    ):
        acc.add(delta_chunk(**delta))
    assert (acc.reasoning, acc.text) == ("17 * 23 = 391.", "391")


def test_unknown_parts_are_noted_once_each():
    acc = ReplyAccumulator()
    acc.add(delta_chunk(content=[{"type": "image_url", "image_url": {"url": "x"}},
                                 {"type": "text", "text": "here"}]))
    acc.add(delta_chunk(content=[{"type": "image_url"}, {"type": "audio"}]))
    for i in range(20):
        acc.add(delta_chunk(content=[{"type": f"kind{i}"}]))
    assert acc.text == "here"
    parts = acc.meta().skipped_parts
    assert parts[:2] == ("image_url", "audio") and len(parts) == 8


def test_a_refusal_is_the_reply():
    acc = ReplyAccumulator()
    acc.add(delta_chunk(role="assistant", content=None, refusal=""))
    assert not acc.answering
    acc.add(delta_chunk(refusal="I can't "))
    acc.add(delta_chunk(refusal="help with that."))
    acc.add({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    assert acc.text == "" and acc.content == "I can't help with that."
    assert acc.answering and acc.meta().refusal is True


def test_a_refusal_after_some_text_keeps_both():
    acc = ReplyAccumulator()
    acc.add(delta_chunk(content="Sure."))
    acc.add(delta_chunk(refusal="Actually, no."))
    assert acc.content == "Sure.\n\nActually, no." and acc.meta().refusal is False


def test_a_whole_completion_reads_like_a_stream():
    acc = ReplyAccumulator()
    acc.add({"object": "chat.completion", "model": "deepseek-reasoner", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello!",
                                 "reasoning_content": "The user greets me."},
         "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 6, "completion_tokens": 92, "total_tokens": 98,
                  "completion_tokens_details": {"reasoning_tokens": 81}}})
    assert (acc.text, acc.reasoning, acc.finish_reason) == (
        "Hello!", "The user greets me.", "stop")
    assert acc.complete and acc.meta().reasoning_tokens == 81 and acc.model == "deepseek-reasoner"


def test_finish_reasons_are_normalized_and_the_raw_one_kept():
    acc = ReplyAccumulator()
    acc.add({"choices": [{"index": 0, "delta": {"content": "cut"}, "finish_reason": "max_tokens"}]})
    meta = acc.meta()
    assert (meta.finish_reason, meta.raw_finish_reason) == ("length", "max_tokens")


def test_tool_arguments_sent_as_an_object_are_kept_as_json():
    acc = ReplyAccumulator()
    acc.add(delta_chunk(tool_calls=[{"id": "c", "function": {"name": "f",
                                                             "arguments": {"city": "Paris"}}}]))
    (call,) = acc.tool_calls
    assert (call.name, call.arguments) == ("f", '{"city": "Paris"}')


def test_a_chunk_that_is_not_an_object_is_a_chat_error_and_keeps_the_text():
    acc = ReplyAccumulator()
    acc.add(delta_chunk(content="kept"))
    with pytest.raises(ChatError) as info:
        acc.add(["not", "a", "chunk"])
    assert info.value.code == "error.malformed" and acc.text == "kept"


# --- no shape crashes a turn (property-based) ------------------------------------------------

# Names real chunks use, so random shapes reach the reducers' branches instead of being
# ignored at the top level.
NAMES = ["choices", "delta", "message", "content", "reasoning_content", "reasoning",
         "reasoning_details", "thinking_blocks", "refusal", "tool_calls", "function", "name",
         "arguments", "id", "index", "finish_reason", "usage", "prompt_tokens",
         "completion_tokens", "total_tokens", "completion_tokens_details", "reasoning_tokens",
         "type", "text", "thinking", "summary", "model", "error", "role",
         "prompt_tokens_details", "cached_tokens", "prompt_cache_hit_tokens", "balance",
         "amount", "currency"]
PART_TYPES = ["text", "thinking", "reasoning", "refusal", "image_url", "output_text",
              "reasoning.text", "reasoning.summary", "reasoning.encrypted", "redacted_thinking"]
scalars = (hst.none() | hst.booleans() | hst.integers(-2**70, 2**70)
           | hst.floats(allow_nan=True, allow_infinity=True) | hst.text(max_size=20)
           | hst.sampled_from(PART_TYPES))
json_values = hst.recursive(
    scalars,
    lambda inner: hst.lists(inner, max_size=4)
    | hst.dictionaries(hst.sampled_from(NAMES) | hst.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)
choices = hst.lists(
    hst.fixed_dictionaries({}, optional={
        "index": hst.integers(-3, 3) | json_values,
        "delta": json_values | hst.dictionaries(hst.sampled_from(NAMES), json_values),
        "message": json_values,
        "finish_reason": hst.sampled_from(["stop", "max_tokens", "end_turn", ""]) | json_values,
    }) | json_values,
    max_size=3,
)
chunks = hst.fixed_dictionaries({}, optional={
    "choices": choices | json_values, "usage": json_values, "model": json_values,
    "balance": json_values,
}) | json_values


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hst.lists(chunks, max_size=6))
def test_no_chunk_shape_raises_anything_but_a_chat_error(stream):
    acc = ReplyAccumulator()
    for chunk in stream:
        with contextlib.suppress(ChatError):  # a clear error on the reply; what came is kept
            acc.add(chunk)
    acc.finish()
    meta = acc.meta("error", "error.malformed")
    assert isinstance(acc.text, str) and isinstance(acc.reasoning, str)
    assert isinstance(acc.content, str) and isinstance(acc.tool_calls, list)
    assert all(isinstance(c.arguments, str) and isinstance(c.name, str) for c in acc.tool_calls)
    for value in (meta.prompt_tokens, meta.completion_tokens, meta.total_tokens,
                  meta.reasoning_tokens, meta.cached_tokens):
        assert value is None or (type(value) is int and 0 <= value < 2**31)
    assert meta.finish_reason is None or isinstance(meta.finish_reason, str)
    assert all(isinstance(kind, str) for kind in meta.skipped_parts)
    assert not meta.balance or (isinstance(meta.balance["amount"], float)
                                and isinstance(meta.balance["currency"], str))
    # What the store and the exports write must serialise.
    json.dumps(meta_to_json(meta))
    assert meta_from_json(json.loads(json.dumps(meta_to_json(meta)))) == meta


@settings(max_examples=800, deadline=None)
@given(hst.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_no_event_data_raises_anything_but_a_chat_error(data):
    try:
        chunk = decode_chunk(data, "sk-secret-key-123456")
    except ChatError as error:
        assert "sk-secret-key-123456" not in str(error.params)
        return
    assert isinstance(chunk, dict)
    ReplyAccumulator().add(chunk)
