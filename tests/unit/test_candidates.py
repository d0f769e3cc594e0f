"""`n` > 1 candidates: the fake API's interleaved choices read by the real client and reducers,
each candidate's own facts, the sibling replies a turn leaves, and what a turn sends."""

from __future__ import annotations

from dataclasses import replace

from nexuschat.api import ChatStream, build_body, make_client
from nexuschat.candidates import (
    CandidateGroup,
    asks_unsupported,
    candidate_id,
    group_of,
    other_candidates,
    request_params,
    requested,
    rows,
    shown_group,
)
from nexuschat.config import Settings
from nexuschat.conversation import Conversation, Message, ReplyMeta
from nexuschat.describe import usage_note
from nexuschat.i18n import use_language
from nexuschat.limits import Limits, candidate_ceiling, capped
from nexuschat.params import GenerationParams, to_request, validate
from nexuschat.streaming import ReplyAccumulator
from nexuschat.turns import INTERRUPTED, LiveTurn

USER = [{"role": "user", "content": "name a colour"}]


def stream(fake, n: int, **behaviour) -> tuple[ReplyAccumulator, list[dict]]:
    """One request for `n` candidates through the real client; the reply and its chunks."""
    fake.script({"kind": "reply", **behaviour})
    client = make_client(Settings(base_url=fake.base_url, api_key="k", model="m"))
    reply, chunks = ReplyAccumulator(), []
    try:
        for chunk in ChatStream(client, build_body("m", USER, GenerationParams(n=n))):
            chunks.append(chunk)
            reply.add(chunk)
    finally:
        client.close()
    reply.finish()
    return reply, chunks


def test_the_fake_api_streams_n_interleaved_choices(fake_api):
    reply, chunks = stream(fake_api, 3, texts=["red and blue", "green", "a warm yellow tone"],
                           finish_reasons=["stop", "length", "stop"])
    assert fake_api.chat_requests()[-1]["n"] == 3
    order = [c["choices"][0]["index"] for c in chunks
             if c.get("choices") and c["choices"][0]["delta"].get("content")]
    assert order[:3] == [0, 1, 2]  # one piece of each in turn, not one choice after another
    assert reply.choice_indexes == (0, 1, 2)
    assert [reply.choice_content(i) for i in range(3)] == ["red and blue", "green",
                                                          "a warm yellow tone"]
    metas = [reply.choice_meta(i) for i in range(3)]
    assert [m.finish_reason for m in metas] == ["stop", "length", "stop"]
    assert [(m.candidate, m.candidates) for m in metas] == [(0, 3), (1, 3), (2, 3)]
    # One usage for the request, the same on each, never a speed it cannot support.
    assert len({(m.prompt_tokens, m.completion_tokens, m.total_tokens) for m in metas}) == 1
    assert metas[0].completion_tokens == 3 + 1 + 4
    assert all(m.tokens_per_s is None and m.ttft_s is not None for m in metas)
    # Choice 1 finished first (one word): its own time is the shortest.
    assert metas[1].duration_s <= metas[2].duration_s
    assert reply.meta() == reply.choice_meta(0)  # the reply is candidate 1
    assert reply.output_chars == len("red and blue") + len("green") + len("a warm yellow tone")


def test_each_candidate_keeps_its_own_reasoning(fake_api):
    reply, _ = stream(fake_api, 2, reasoning="think first ", texts=["one", "two"])
    assert reply.choice_reasoning(0) == reply.choice_reasoning(1) == "think first "
    view = reply.choice(1)
    assert (view.text, view.reasoning_chars, view.answering) == ("two", 12, True)
    assert reply.choice_meta(1).reasoning_s is not None


def test_a_server_that_sends_fewer_choices_gives_a_plain_reply(fake_api):
    reply, _ = stream(fake_api, 3, choices=1, text="only one")
    assert reply.choice_indexes == (0,)
    meta = reply.meta()
    assert (meta.candidates, meta.candidate) == (1, 0)
    assert meta.tokens_per_s is not None or meta.completion_tokens


def test_a_single_reply_is_unchanged():
    reply = ReplyAccumulator()
    reply.add({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]})
    reply.finish()
    assert reply.choice_indexes == (0,) and reply.meta().candidates == 1


def test_indexes_past_the_contract_are_not_candidates():
    reply = ReplyAccumulator()
    for index in (0, 1, 9, -1):
        reply.add({"choices": [{"index": index, "delta": {"content": "x"}}]})
    assert reply.choice_indexes == (0, 1)


def _live(reply: ReplyAccumulator, status="complete") -> tuple[LiveTurn, Message]:
    question = Message("user", "q")
    live = LiveTurn(Conversation(messages=(question,)), "reply", reply)
    live.status = status
    live.end()
    settled = live.settle()
    return live, settled


def _three_chunks(finish_second: bool = True) -> ReplyAccumulator:
    reply = ReplyAccumulator()
    for index, text in enumerate(("a", "b", "c")):
        reply.add({"choices": [{"index": index, "delta": {"content": text}}]})
    for index in (0, 1, 2) if finish_second else (0, 2):
        reply.add({"choices": [{"index": index, "delta": {}, "finish_reason": "stop"}]})
    return reply


def test_the_other_candidates_are_siblings_with_stable_ids():
    live, settled = _live(_three_chunks())
    first = settled.last
    others = other_candidates(live, first)
    assert [m.content for m in others] == ["b", "c"]
    assert all(m.parent_id == first.parent_id for m in others)
    assert [m.id for m in others] == [candidate_id(live.reply_id, i) for i in (1, 2)]
    assert [m.id for m in other_candidates(live, first, interrupted=True)] == \
        [m.id for m in others]  # the partial saves and the final one are the same rows
    assert all(m.meta.error_code == INTERRUPTED
               for m in other_candidates(live, first, interrupted=True))
    assert first.meta.candidates == 3 and first.content == "a"


def test_a_candidate_the_server_never_finished_says_so():
    live, settled = _live(_three_chunks(finish_second=False))
    second, third = other_candidates(live, settled.last)
    assert (second.status, second.meta.error_code) == ("error", "error.stream_incomplete")
    assert third.status == "complete"


def test_stopped_candidates_keep_what_arrived():
    live, settled = _live(_three_chunks(finish_second=False), status="stopped")
    assert [m.status for m in other_candidates(live, settled.last)] == ["stopped", "stopped"]
    assert settled.last.status == "stopped"


def test_the_group_is_shown_until_the_conversation_moves_on():
    live, settled = _live(_three_chunks())
    group = group_of(settled, other_candidates(live, settled.last))
    assert isinstance(group, CandidateGroup) and len(group.ids) == 3
    assert shown_group(group, settled) is group
    picked = replace(settled, messages=(*settled.messages[:-1], group.replies[2]))
    assert shown_group(group, picked) is group  # picked but not yet reloaded: still one of them
    assert shown_group(group, settled.append(Message("user", "next"))) is None
    assert shown_group(group, Conversation()) is None
    assert group_of(settled, ()) is None


def test_request_params_send_n_only_where_it_means_something():
    params = GenerationParams(n=3)
    assert request_params(params, True, "reply").n == 3
    assert request_params(params, True, "continue").n is None  # one reply is extended
    assert request_params(params, False, "reply").n is None
    assert asks_unsupported(params, False) and not asks_unsupported(params, True)
    assert not asks_unsupported(GenerationParams(), False)
    assert requested(GenerationParams()) == 1 and requested(params) == 3
    assert to_request(params) == {"n": 3} and "n" not in to_request(GenerationParams())


def test_n_is_validated_to_the_contract():
    assert not validate(GenerationParams(n=4))
    for bad in (0, 5, True, 2.5):
        assert [e.code for e in validate(GenerationParams(n=bad))] == ["params.error.int_range"]


def test_the_max_tokens_ceiling_is_shared_by_the_candidates():
    limits = Limits(max_tokens=4096)
    assert capped(GenerationParams(n=3), limits, deploy_key=True).max_tokens == 1365
    assert capped(GenerationParams(n=2, max_tokens=1000), limits,
                  deploy_key=True).max_tokens == 1000
    assert capped(GenerationParams(n=2, max_tokens=3000), limits,
                  deploy_key=True).max_tokens == 2048
    assert capped(GenerationParams(n=4), limits, deploy_key=False).max_tokens is None
    assert candidate_ceiling(3, 4) == 1 and candidate_ceiling(None, 4) is None


def test_rows_put_four_two_by_two():
    assert [rows(n) for n in (1, 2, 3, 4)] == [(1,), (2,), (3,), (2, 2)]


def test_shared_usage_is_said_in_both_languages():
    meta = ReplyMeta(prompt_tokens=5, completion_tokens=9, total_tokens=14, candidates=3)
    use_language("en")
    assert usage_note(meta).endswith("for all 3 candidates of the request")
    use_language("zh")
    try:
        assert "3 个候选" in usage_note(meta)
    finally:
        use_language("en")
