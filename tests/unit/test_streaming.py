"""Reducers and pacing over plain chunk dicts (the SDK's objects behave the same)."""

import threading
import time

import pytest

from nexuschat.api import ChatError
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
