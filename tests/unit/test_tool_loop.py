"""The tool loop's rules: settings, what a request offers, the rounds, the order of messages
sent, and how calls run (failures, timeouts, Stop)."""

from __future__ import annotations

import threading
import time

import pytest

from nexuschat.conversation import (
    NOT_RUN_RESULT,
    Conversation,
    Message,
    ReplyMeta,
    ToolCall,
    to_openai,
)
from nexuschat.params import GenerationParams, validate
from nexuschat.tool_loop import (
    DEFAULT_ROUNDS,
    MAX_ROUNDS,
    STOPPED_RESULT,
    LiveTools,
    ToolSettings,
    at_limit,
    continues,
    cut_result,
    last_round,
    pending_calls,
    resolve_tool_settings,
    result_message,
    results_by_reply,
    rounds_used,
    run_call,
    toolbox,
    tools_request,
    with_limit,
)
from nexuschat.tools import BUILTINS, SOURCE_USER, Tool, ToolContext, ToolFailure

DONE = ReplyMeta(finish_reason="tool_calls")


def calls_reply(*calls: ToolCall, text: str = "", meta: ReplyMeta = DONE) -> Message:
    return Message("assistant", text, meta=meta, tool_calls=calls)


def call(n: int, name: str = "calculate", arguments: str = '{"expression": "1+1"}') -> ToolCall:
    return ToolCall(f"call_{n}", name, arguments, "builtin")


def chat(*messages: Message) -> Conversation:
    conv = Conversation()
    for message in messages:
        conv = conv.append(message)
    return conv


# --- settings and the request ---------------------------------------------------------------


def test_tool_settings_come_from_secrets_then_the_environment():
    assert resolve_tool_settings({}, {}) == ToolSettings(True, DEFAULT_ROUNDS)
    assert resolve_tool_settings({"NEXUSCHAT_TOOLS": "off"}, {"NEXUSCHAT_TOOLS": "on"}) == \
        ToolSettings(False, DEFAULT_ROUNDS)
    assert resolve_tool_settings({}, {"NEXUSCHAT_TOOLS": "false",
                                      "NEXUSCHAT_TOOL_ROUNDS": "3"}) == ToolSettings(False, 3)
    assert resolve_tool_settings({"NEXUSCHAT_TOOL_ROUNDS": 999}, {}).max_rounds == MAX_ROUNDS
    assert resolve_tool_settings({"NEXUSCHAT_TOOL_ROUNDS": "0"}, {}).max_rounds == 1
    assert resolve_tool_settings({"NEXUSCHAT_TOOL_ROUNDS": "many"}, {}).max_rounds == \
        DEFAULT_ROUNDS


def test_the_request_offers_the_tools_and_the_users_choice_on_the_first_round_only():
    box = toolbox(BUILTINS)
    assert tools_request(toolbox(), GenerationParams(tool_choice="required"),
                         first_round=True) == {}
    body = tools_request(box, GenerationParams(), first_round=True)
    assert [t["function"]["name"] for t in body["tools"]] == [
        "calculate", "current_time", "convert_units"]
    assert "tool_choice" not in body  # auto: nothing sent
    named = GenerationParams(tool_choice="function", tool_function="calculate")
    assert tools_request(box, named, first_round=True)["tool_choice"] == {
        "type": "function", "function": {"name": "calculate"}}
    assert "tool_choice" not in tools_request(box, named, first_round=False)
    required = GenerationParams(tool_choice="required")
    assert tools_request(box, required, first_round=True)["tool_choice"] == "required"
    assert "tool_choice" not in tools_request(box, required, first_round=False)
    never = GenerationParams(tool_choice="none")
    assert tools_request(box, never, first_round=False)["tool_choice"] == "none"
    missing = GenerationParams(tool_choice="function", tool_function="nope")
    assert "tool_choice" not in tools_request(box, missing, first_round=True)


def test_tool_choice_is_validated():
    assert validate(GenerationParams(tool_choice="sometimes"))[0].code == \
        "params.error.tool_choice"
    assert validate(GenerationParams(tool_choice="function"))[0].code == \
        "params.error.tool_function"
    assert validate(GenerationParams(tool_choice="function", tool_function="f")) == []


def test_a_name_taken_by_an_earlier_tool_is_left_out():
    mine = Tool("calculate", "mine", source=SOURCE_USER)
    box = toolbox(BUILTINS, [mine, Tool("lookup", "x", source=SOURCE_USER)])
    assert box.names == ("calculate", "current_time", "convert_units", "lookup")
    assert box.get("calculate").source == "builtin"
    assert box.sources()["lookup"] == SOURCE_USER


# --- rounds and order -------------------------------------------------------------------------


def test_rounds_are_counted_since_the_user_last_spoke_and_the_limit_stops_the_loop():
    conv = chat(Message("user", "q"), calls_reply(call(1)),
                result_message(call(1), "2"), calls_reply(call(2)))
    assert rounds_used(conv) == 2
    assert not at_limit(conv, 3) and at_limit(conv, 2)
    assert continues(conv.last) and pending_calls(conv) == (call(2),)
    limited = conv.replace_last(with_limit(conv.last, 2))
    assert limited.last.meta.tool_limit == 2 and limited.last.meta.finish_reason == "tool_calls"
    assert not continues(limited.last) and pending_calls(limited) == ()
    # Everything is kept and sent next time: the calls the limit left are answered as not run.
    sent = to_openai(limited.append(Message("user", "and?")))
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "tool",
                                         "user"]
    assert sent[4] == {"role": "tool", "tool_call_id": "call_2", "content": NOT_RUN_RESULT}
    assert rounds_used(limited.append(Message("user", "and?"))) == 0


def test_results_follow_the_reply_that_carried_the_calls_with_their_ids():
    calls = (call(1), call(2, "current_time", "{}"), call(3, "convert_units", "{}"))
    conv = chat(Message("user", "q"), calls_reply(*calls, text="Let me check."),
                result_message(calls[1], "noon"), result_message(calls[0], "2"))
    assert [c.id for c in pending_calls(conv)] == ["call_3"]
    conv = conv.append(result_message(calls[2], "Error: unknown unit", "error"))
    assert pending_calls(conv) == () and len(last_round(conv)) == 4
    conv = conv.append(Message("assistant", "Done.", meta=ReplyMeta(finish_reason="stop")))
    sent = to_openai(conv)
    assert sent[1] == {"role": "assistant", "content": "Let me check.",
                       "tool_calls": [c.to_openai() for c in calls]}
    assert [(m["role"], m.get("tool_call_id")) for m in sent[2:]] == [
        ("tool", "call_2"), ("tool", "call_1"), ("tool", "call_3"), ("assistant", None)]
    assert sent[2]["content"] == "noon"
    assert last_round(conv) == ()
    by_reply = results_by_reply(conv.messages)
    assert set(by_reply[conv.messages[1].id]) == {"call_1", "call_2", "call_3"}


def test_a_reply_with_no_text_sends_null_content_and_a_stopped_one_sends_no_calls():
    conv = chat(Message("user", "q"), calls_reply(call(1)))
    assert to_openai(conv)[1]["content"] is None
    stopped = conv.replace_last(calls_reply(call(1), text="part",
                                            meta=ReplyMeta(status="stopped")))
    assert to_openai(stopped)[1] == {"role": "assistant", "content": "part"}
    assert pending_calls(stopped) == ()
    cut = conv.replace_last(calls_reply(call(1), meta=ReplyMeta(finish_reason="length")))
    assert "tool_calls" not in to_openai(cut)[1]


def test_a_result_that_answers_no_standing_call_is_not_sent():
    conv = chat(Message("user", "q"), Message("assistant", "hi"),
                result_message(call(7), "orphan"))
    assert [m["role"] for m in to_openai(conv)] == ["user", "assistant"]


def test_repeated_ids_in_one_reply_get_one_answer_each():
    same = ToolCall("0", "calculate", "{}")
    conv = chat(Message("user", "q"), calls_reply(same, same), result_message(same, "a"))
    assert pending_calls(conv) == (same,)


# --- running calls ----------------------------------------------------------------------------


def test_run_call_answers_failures_instead_of_raising():
    calc = toolbox(BUILTINS).get("calculate")
    ctx = ToolContext("Asia/Shanghai")
    assert run_call(calc, call(1, arguments='{"expression": "6*7"}'), ctx) == ("42", "ok")
    text, status = run_call(calc, call(1, arguments='{"expression": "1/0"}'), ctx)
    assert (text, status) == ("Error: division by zero", "error")
    assert run_call(calc, call(1, arguments="{oops"), ctx)[0] == \
        "Error: the arguments are not valid JSON"
    assert "invalid arguments" in run_call(calc, call(1, arguments='{"x": 1}'), ctx)[0]
    text, status = run_call(None, call(1, "ghost"), ctx, ("calculate",))
    assert status == "error" and "'ghost'" in text and "calculate" in text

    def boom(arguments, context):
        raise RuntimeError("disk on fire\nmore")

    text, status = run_call(Tool("b", "", run=boom), call(1, "b"), ctx)
    assert (text, status) == ("Error: the tool failed (RuntimeError: disk on fire)", "error")
    assert run_call(Tool("u", "", source=SOURCE_USER), call(1, "u"), ctx)[1] == "error"


def test_long_results_are_cut_saying_so():
    assert cut_result("abc", 5) == "abc"
    assert cut_result("abcdefgh", 5) == "abcde\n[3 more characters cut]"


def test_the_current_time_uses_the_browsers_time_zone():
    now = toolbox(BUILTINS).get("current_time")
    text, status = run_call(now, call(1, "current_time", "{}"), ToolContext("Asia/Tokyo"))
    assert status == "ok" and '"timezone": "Asia/Tokyo"' in text and "+0900" in text


def _tool(name: str, work) -> Tool:
    return Tool(name, name, run=lambda arguments, context: work())


def test_live_tools_run_in_parallel_and_hand_results_over_in_the_models_order():
    release = threading.Event()
    box = toolbox([_tool("slow", lambda: release.wait(5) and "slow done"),
                   _tool("fast", lambda: "fast done")])
    calls = (call(1, "slow", "{}"), call(2, "fast", "{}"))
    conv = chat(Message("user", "q"), calls_reply(*calls))
    live = LiveTools(conv, calls).start(box, ToolContext())
    deadline = time.monotonic() + 5
    while "call_2" in live.running() and time.monotonic() < deadline:
        live.wait(0.05)
    assert live.running() == {"call_1"}
    assert live.take_ready() == []  # the second waits for the first: the model's order
    release.set()
    got = []
    while not live.done and time.monotonic() < deadline:
        live.wait(0.05)
        got += live.take_ready()
    assert [(m.tool_result.call_id, m.content, m.tool_result.status) for m in got] == [
        ("call_1", "slow done", "ok"), ("call_2", "fast done", "ok")]
    assert all(m.tool_result.duration_s is not None for m in got)


def test_a_call_past_its_time_is_answered_with_a_timeout_and_stop_answers_the_rest():
    hang = threading.Event()
    box = toolbox([_tool("hang", lambda: hang.wait(5) and "late"),
                   _tool("also", lambda: hang.wait(5) and "late")])
    calls = (call(1, "hang", "{}"), call(2, "also", "{}"))
    conv = chat(Message("user", "q"), calls_reply(*calls))
    live = LiveTools(conv, calls, timeout_s=0.2).start(box, ToolContext())
    deadline = time.monotonic() + 5
    while not live.done and time.monotonic() < deadline:
        live.wait(0.05)
        if live.take_ready():
            break
    first = live._runs[0]
    assert first.status == "error" and "did not answer within 0 s" in first.text
    stopped = LiveTools(conv, calls).start(box, ToolContext())
    settled = stopped.settle()
    assert [(m.content, m.tool_result.status) for m in settled] == [
        (STOPPED_RESULT, "stopped"), (STOPPED_RESULT, "stopped")]
    hang.set()
    time.sleep(0.05)
    assert stopped.take_ready() == []  # a late answer does not replace the stopped one


@pytest.mark.parametrize("failure", [ToolFailure("bad input"), ValueError("nope")])
def test_a_tool_that_raises_does_not_break_the_round(failure):
    def work():
        raise failure

    calls = (call(1, "bad", "{}"),)
    live = LiveTools(chat(Message("user", "q"), calls_reply(*calls)), calls).start(
        toolbox([_tool("bad", work)]), ToolContext())
    deadline = time.monotonic() + 5
    got = []
    while not got and time.monotonic() < deadline:
        live.wait(0.05)
        got = live.take_ready()
    assert got[0].tool_result.status == "error" and got[0].content.startswith("Error: ")


def test_a_streaming_replys_snapshot_carries_its_calls_with_their_sources():
    from nexuschat.streaming import ReplyAccumulator
    from nexuschat.turns import INTERRUPTED, LiveTurn

    conv = chat(Message("user", "q"))
    live = LiveTurn(conv, "reply", ReplyAccumulator(), tool_sources={"atlas__capital": "atlas"})
    live.reply.add({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c1", "function": {"name": "atlas__capital",
                                              "arguments": '{"country": "Ja'}}]}}]})
    snap = live.snapshot()  # what a crash leaves: the call so far, marked interrupted
    assert snap.meta.error_code == INTERRUPTED
    assert snap.tool_calls == (ToolCall("c1", "atlas__capital", '{"country": "Ja', "atlas"),)
    assert not continues(snap)


def test_regenerating_the_answer_after_tool_rounds_starts_before_them():
    from nexuschat.tree import regenerate_view

    conv = chat(Message("user", "q"), calls_reply(call(1)), result_message(call(1), "2"),
                Message("assistant", "It is 2."))
    view = regenerate_view(conv, conv.last.id)
    assert [m.role for m in view.messages] == ["user"]
