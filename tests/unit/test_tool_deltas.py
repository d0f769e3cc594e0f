"""Tool-call deltas folded by ReplyAccumulator: every way servers split a call across chunks."""

from nexuschat.conversation import ToolCall
from nexuschat.streaming import MAX_TOOL_CALLS, ReplyAccumulator


def chunk(*calls, content=None, finish=None):
    delta: dict = {"tool_calls": list(calls)} if calls else {}
    if content is not None:
        delta["content"] = content
    return {"model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def fold(*chunks) -> ReplyAccumulator:
    acc = ReplyAccumulator()
    for c in chunks:
        acc.add(c)
    acc.finish()
    return acc


def test_a_name_split_across_chunks_is_joined():
    acc = fold(chunk({"index": 0, "id": "call_1", "function": {"name": "calc"}}),
               chunk({"index": 0, "function": {"name": "ulate", "arguments": "{}"}}))
    assert acc.tool_calls == [ToolCall("call_1", "calculate", "{}")]


def test_a_whole_name_sent_again_with_every_piece_is_not_doubled():
    acc = fold(chunk({"index": 0, "id": "c", "function": {"name": "calculate",
                                                          "arguments": '{"expr'}}),
               chunk({"index": 0, "function": {"name": "calculate", "arguments": 'ession": '}}),
               chunk({"index": 0, "function": {"name": "calculate", "arguments": '"1+1"}'}}))
    assert acc.tool_calls == [ToolCall("c", "calculate", '{"expression": "1+1"}')]


def test_arguments_split_anywhere_are_joined_byte_for_byte():
    text = '{"expression": "(1.5 + 2) * 3 ** 2", "note": "中文 \\" quote"}'
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    first = chunk({"index": 0, "id": "call_9", "type": "function",
                   "function": {"name": "calculate", "arguments": ""}})
    acc = fold(first, *(chunk({"index": 0, "function": {"arguments": p}}) for p in pieces),
               chunk(finish="tool_calls"))
    (call,) = acc.tool_calls
    assert call.arguments == text and acc.meta().finish_reason == "tool_calls"
    assert acc.tool_chars == len("calculate") + len(text)


def test_several_calls_interleaved_keep_the_models_order():
    acc = fold(
        chunk({"index": 0, "id": "a", "function": {"name": "calculate", "arguments": ""}},
              {"index": 1, "id": "b", "function": {"name": "current_time", "arguments": ""}}),
        chunk({"index": 1, "function": {"arguments": "{}"}}),
        chunk({"index": 0, "function": {"arguments": '{"expression": "2*3"}'}}),
        chunk({"index": 2, "id": "c", "function": {"name": "convert_units",
                                                   "arguments": '{"value": 1}'}}),
    )
    assert [(c.id, c.name, c.arguments) for c in acc.tool_calls] == [
        ("a", "calculate", '{"expression": "2*3"}'), ("b", "current_time", "{}"),
        ("c", "convert_units", '{"value": 1}')]


def test_text_and_calls_in_one_reply_are_both_kept():
    acc = fold(chunk(content="Let me "), chunk(content="work it out."),
               chunk({"index": 0, "id": "c1", "function": {"name": "calculate"}}),
               chunk({"index": 0, "function": {"arguments": '{"expression": "9"}'}},
                     content=""),
               chunk(finish="tool_calls"))
    assert acc.text == "Let me work it out."
    assert acc.tool_calls == [ToolCall("c1", "calculate", '{"expression": "9"}')]


def test_a_call_spread_over_many_chunks_with_empty_ones_between():
    arguments = '{"expression": "' + "1+" * 200 + '1"}'
    chunks = [chunk({"index": 0, "id": "long", "function": {"name": "calculate"}})]
    for i, ch in enumerate(arguments):
        chunks.append(chunk({"index": 0, "function": {"arguments": ch}}))
        if i % 50 == 0:
            chunks.append(chunk())  # keep-alive deltas with nothing in them
    acc = fold(*chunks)
    assert acc.tool_calls == [ToolCall("long", "calculate", arguments)]


def test_missing_index_a_new_id_starts_the_next_call():
    # Gemini's OpenAI-compatible API leaves `index` out; each call comes whole, with an id.
    acc = fold(chunk({"id": "g1", "function": {"name": "calculate",
                                               "arguments": '{"expression": "1"}'}}),
               chunk({"id": "g2", "function": {"name": "current_time", "arguments": "{}"}}),
               chunk({"function": {"arguments": ""}}))
    assert [(c.id, c.name) for c in acc.tool_calls] == [("g1", "calculate"),
                                                        ("g2", "current_time")]


def test_missing_index_without_ids_continues_the_call_and_gets_an_id():
    acc = fold(chunk({"function": {"name": "calculate", "arguments": '{"expression"'}}),
               chunk({"function": {"arguments": ': "2"}'}}))
    assert acc.tool_calls == [ToolCall("call_0", "calculate", '{"expression": "2"}')]


def test_an_index_that_is_not_a_number_and_too_many_calls_do_not_break_the_reply():
    acc = fold(chunk({"index": [1], "id": "x", "function": {"name": "f", "arguments": "{}"}}),
               *(chunk({"index": i, "id": f"i{i}", "function": {"name": "g"}})
                 for i in range(1, MAX_TOOL_CALLS + 10)))
    assert len(acc.tool_calls) == MAX_TOOL_CALLS
    assert acc.tool_calls[0] == ToolCall("x", "f", "{}")
