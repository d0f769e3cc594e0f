"""Conversations to wire format, and how each kind of turn lands."""

import base64

import pytest

from nexuschat.conversation import Conversation, Message, ReplyMeta, to_openai
from nexuschat.errors import ChatError
from nexuschat.images import PreparedImage
from nexuschat.models import capabilities
from nexuschat.params import GenerationParams
from nexuschat.turns import (
    CONTINUE_PROMPT,
    Draft,
    apply_reply,
    blockers,
    can_continue,
    failure_params,
    redrawn_by_turn,
    request_messages,
    retry_kind,
    retry_not_before,
    retry_wait_s,
    turn_for,
)

PNG = PreparedImage(data=b"\x89PNG-bytes", mime="image/png", width=10, height=20, name="a.png",
                    source_bytes=99, source_width=10, source_height=20)


def convo(*messages, system=""):
    return Conversation(messages=tuple(messages), system_prompt=system)


def test_whole_conversation_is_resent_with_system_prompt_and_images():
    c = convo(Message("user", "What is this?", images=(PNG,)),
              Message("assistant", "A cat.", meta=ReplyMeta(finish_reason="stop")),
              Message("user", "And now?"), system="Be brief.")
    wire = to_openai(c)
    assert wire[0] == {"role": "system", "content": "Be brief."}
    assert wire[1]["content"][0] == {"type": "text", "text": "What is this?"}
    url = wire[1]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG.data
    assert wire[2] == {"role": "assistant", "content": "A cat."}
    assert wire[3] == {"role": "user", "content": "And now?"}


def test_blank_system_prompt_is_not_sent():
    assert to_openai(convo(Message("user", "x"), system="  ")) == [
        {"role": "user", "content": "x"}]


def test_image_only_message_has_no_empty_text_part():
    (wire,) = to_openai(convo(Message("user", "", images=(PNG,))))
    assert [p["type"] for p in wire["content"]] == ["image_url"]


def test_failed_replies_are_shown_but_not_resent_and_stopped_ones_are():
    failed = Message("assistant", "half", meta=ReplyMeta(status="error", error_code="e"))
    stopped = Message("assistant", "part", meta=ReplyMeta(status="stopped"))
    assert [m["content"] for m in to_openai(convo(Message("user", "q"), failed))] == ["q"]
    assert [m["content"] for m in to_openai(convo(Message("user", "q"), stopped))] == [
        "q", "part"]


def test_assistant_content_is_never_null():
    (wire,) = to_openai(convo(Message("assistant", "", meta=ReplyMeta())))
    assert wire["content"] == ""


def test_reply_appends_and_retry_replaces_the_failure_keeping_its_text():
    c = convo(Message("user", "q"))
    failed = apply_reply(c, "reply", "partial", ReplyMeta(status="error", error_code="x"))
    assert [m.content for m in failed.messages] == ["q", "partial"]
    assert retry_kind(failed) == "reply"
    retried = apply_reply(failed, "reply", "full answer", ReplyMeta(finish_reason="stop"))
    assert [m.content for m in retried.messages] == ["q", "full answer"]
    assert retried.last.earlier_attempts == ("partial",)


def test_continue_sends_a_hidden_prompt_and_extends_the_reply():
    c = convo(Message("user", "q"),
              Message("assistant", "first half", meta=ReplyMeta(
                  finish_reason="length", prompt_tokens=5, completion_tokens=10,
                  total_tokens=15)))
    assert can_continue(c.last)
    sent = request_messages(c, "continue")
    assert sent[-1] == {"role": "user", "content": CONTINUE_PROMPT}
    done = apply_reply(c, "continue", " second half", ReplyMeta(
        finish_reason="stop", prompt_tokens=20, completion_tokens=4, total_tokens=24))
    assert len(done.messages) == 2
    assert done.last.content == "first half second half"
    assert (done.last.meta.finish_reason, done.last.meta.completion_tokens) == ("stop", 14)
    assert not can_continue(done.last)


def test_failed_continue_keeps_the_reply_usable_and_retries_as_continue():
    c = convo(Message("user", "q"),
              Message("assistant", "first", meta=ReplyMeta(finish_reason="length")))
    after = apply_reply(c, "continue", " more", ReplyMeta(status="error",
                                                          error_code="error.stream_cut"))
    assert after.last.content == "first more"
    assert after.last.status != "error" and after.last.meta.error_code == "error.stream_cut"
    assert retry_kind(after) == "continue"
    assert request_messages(after, "reply")[-1]["content"] == "first more"


def test_stopped_reply_can_be_continued():
    stopped = Message("assistant", "x", meta=ReplyMeta(status="stopped"))
    assert can_continue(stopped)
    assert not can_continue(Message("assistant", "x", meta=ReplyMeta(finish_reason="stop")))


def test_blockers_for_vision_images_and_params():
    model = "qwen3.5-plus"
    assert not capabilities(model).vision
    draft = Draft("look", images=(PNG,))
    assert blockers(draft, model, GenerationParams()) == ["vision"]
    assert blockers(draft, "claude-sonnet-4-6", GenerationParams()) == []
    assert blockers(draft, model, GenerationParams(), {model: {"vision": True}}) == []
    assert blockers(Draft("x"), model, GenerationParams(temperature=2)) == ["params"]
    assert Draft("  ").empty and not draft.empty


def test_live_turn_settles_a_stopped_reply_with_its_partial_text():
    from nexuschat.streaming import ReplyAccumulator
    from nexuschat.turns import LiveTurn

    live = LiveTurn(convo(Message("user", "q")), "reply", ReplyAccumulator())
    live.reply.add({"choices": [{"index": 0, "delta": {"content": "half"}}]})
    live.status = "stopped"
    live.end()
    settled = live.settle()
    assert settled.last.content == "half" and settled.last.status == "stopped"


def test_live_turn_whose_run_never_ended_is_kept_as_stopped():
    from nexuschat.streaming import ReplyAccumulator
    from nexuschat.turns import LiveTurn

    live = LiveTurn(convo(Message("user", "q")), "reply", ReplyAccumulator())
    live.reply.add({"choices": [{"index": 0, "delta": {"content": "so far"}}]})
    settled = live.settle(wait_s=0.01)
    assert settled.last.content == "so far" and settled.last.status == "stopped"


def test_live_turn_failure_is_recorded_on_the_reply():
    from nexuschat.streaming import ReplyAccumulator
    from nexuschat.turns import LiveTurn

    live = LiveTurn(convo(Message("user", "q")), "reply", ReplyAccumulator())
    live.fail("error.read_timeout")
    live.end()
    last = live.settle().last
    assert (last.status, last.meta.error_code, last.content) == ("error", "error.read_timeout", "")


def test_review_holds_only_messages_with_images_that_could_be_sent():
    assert blockers(Draft("x", images=(PNG,)), "claude-sonnet-4-6", GenerationParams(),
                    review_images=True) == ["review"]
    assert blockers(Draft("x"), "claude-sonnet-4-6", GenerationParams(),
                    review_images=True) == []
    assert blockers(Draft("x", images=(PNG,)), "qwen3.5-plus", GenerationParams(),
                    review_images=True) == ["vision"]


def test_a_model_that_cannot_see_gets_image_notes_not_parts():
    c = convo(Message("user", "What is this?", images=(PNG,)),
              Message("assistant", "A cat.", meta=ReplyMeta(finish_reason="stop")),
              Message("user", "", images=(PNG,)))
    wire = request_messages(c, "reply", vision=False)
    assert wire[0] == {"role": "user",
                       "content": "[image not shown to this model: a.png]\nWhat is this?"}
    assert wire[2] == {"role": "user", "content": "[image not shown to this model: a.png]"}
    assert all(isinstance(m["content"], str) for m in wire)


# --- reasoning and finish reasons (issue 11) ---------------------------------------------------


def test_reasoning_is_never_sent_back_to_the_model():
    c = convo(Message("user", "2+2?"),
              Message("assistant", "4", reasoning="SECRET-THOUGHT: add them",
                      meta=ReplyMeta(finish_reason="stop")),
              Message("user", "and 3+3?"))
    wire = to_openai(c)
    assert wire[1] == {"role": "assistant", "content": "4"}
    assert "SECRET-THOUGHT" not in repr(request_messages(c, "continue"))


@pytest.mark.parametrize("finish, status, ok", [
    ("length", "complete", True), ("max_tokens", "complete", True),
    ("MAX_TOKENS", "complete", True), ("model_length", "complete", True),
    ("stop", "complete", False), ("end_turn", "complete", False), (None, "stopped", True),
    ("length", "error", False),
])
def test_continue_appears_whenever_the_reply_was_cut_by_length(finish, status, ok):
    meta = ReplyMeta(finish_reason=finish, status=status)
    assert can_continue(Message("assistant", "cut", meta=meta)) is ok


def test_a_continuation_keeps_the_reasoning_it_extends_and_adds_its_own():
    c = convo(Message("user", "q"),
              Message("assistant", "part one", reasoning="first thoughts",
                      meta=ReplyMeta(finish_reason="length", reasoning_tokens=3,
                                     reasoning_s=1.5)))
    after = apply_reply(c, "continue", " part two",
                        ReplyMeta(finish_reason="stop", reasoning_tokens=2, reasoning_s=0.5),
                        reasoning="more thoughts")
    last = after.last
    assert last.content == "part one part two"
    assert last.reasoning == "first thoughts\n\nmore thoughts"
    assert (last.meta.reasoning_tokens, last.meta.reasoning_s) == (5, 2.0)


def test_a_live_turn_settles_with_reasoning_and_a_refusal_as_content():
    from nexuschat.streaming import ReplyAccumulator
    from nexuschat.turns import LiveTurn

    live = LiveTurn(convo(Message("user", "q")), "reply", ReplyAccumulator())
    live.reply.add({"choices": [{"index": 0, "delta": {"reasoning_content": "hmm"}}]})
    assert live.snapshot().reasoning == "hmm"  # what a crash would leave keeps it
    live.reply.add({"choices": [{"index": 0, "delta": {"refusal": "No."},
                                 "finish_reason": "stop"}]})
    live.end()
    reply = live.settle().last
    assert (reply.content, reply.reasoning, reply.meta.refusal) == ("No.", "hmm", True)


FAILED = ReplyMeta(status="error", error_code="error.server")
CUT = ReplyMeta(finish_reason="length")
# A continuation that failed keeps the reply's own status; its error is shown on it.
FAILED_CONTINUATION = ReplyMeta(finish_reason="length", error_code="error.server")


@pytest.mark.parametrize(("pending", "last", "kind"), [
    (None, Message("assistant", "a", meta=FAILED), None),
    ("reply", Message("user", "q"), "reply"),
    ("continue", Message("assistant", "a", meta=CUT), "continue"),
    ("retry", Message("assistant", "", meta=FAILED), "reply"),  # answered again
    ("retry", Message("assistant", "a", meta=FAILED_CONTINUATION), "continue"),
    ("anything else", Message("user", "q"), None),
])
def test_the_turn_an_action_asks_for(pending, last, kind):
    assert turn_for(pending, convo(Message("user", "q0"), last)) == kind


@pytest.mark.parametrize(("pending", "last", "redrawn"), [
    (None, Message("assistant", "a", meta=FAILED), False),  # no turn: drawn as it is
    ("reply", Message("user", "q"), False),  # a new reply below the question
    ("retry", Message("assistant", "part", meta=FAILED), True),  # replaced by the retry
    ("continue", Message("assistant", "The start", meta=CUT), True),  # continued in place
    # A Retry of a failed continuation continues it: drawn once, by the turn.
    ("retry", Message("assistant", "The start", meta=FAILED_CONTINUATION), True),
])
def test_the_last_message_is_left_to_the_turn_that_redraws_it(pending, last, redrawn):
    conversation = convo(Message("user", "q0"), last)
    assert redrawn_by_turn(conversation, turn_for(pending, conversation)) is redrawn


def test_an_empty_conversation_has_nothing_to_redraw():
    assert not redrawn_by_turn(convo(), "reply")


def test_a_failure_keeps_its_plain_values_and_when_a_retry_may_be_sent():
    error = ChatError("error.rate_limited", {"status": 429, "detail": "slow", "tries": [1],
                                             "raw": {"a": 1}}, status=429, retry_after=2.5)
    assert failure_params(error, now=1000.0) == {
        "status": 429, "detail": "slow", "retry_after": 2.5, "retry_not_before": 1002.5}
    assert failure_params(ChatError("error.server", {"status": 500}), now=1000.0) == {
        "status": 500}


def test_a_retry_waits_until_the_time_its_failure_stored():
    stored = failure_params(ChatError("error.rate_limited", retry_after=3), now=100.0)
    conversation = convo(Message("user", "q"),
                         Message("assistant", "", meta=ReplyMeta(status="error",
                                                                 error_params=stored)))
    not_before = retry_not_before(conversation)
    assert not_before == 103.0
    assert retry_wait_s(not_before, now=101.0) == 2.0
    assert retry_wait_s(not_before, now=103.0) == 0.0
    assert retry_wait_s(not_before, now=250.0) == 0.0  # long past: send at once
    assert retry_wait_s(None, now=101.0) == 0.0


@pytest.mark.parametrize("params", [{}, {"retry_not_before": "soon"},
                                    {"retry_not_before": None}, {"retry_not_before": True}])
def test_no_stored_time_means_no_wait(params):
    failed = Message("assistant", "", meta=ReplyMeta(status="error", error_params=params))
    assert retry_not_before(convo(Message("user", "q"), failed)) is None
    assert retry_not_before(convo(Message("user", "q"))) is None
    assert retry_not_before(convo()) is None
