"""A reasoning reply in a real browser: its thinking streams first, collapses when the answer
starts, and a reload shows both; hostile thinking, refusals and part types render inert.

The fake API holds the reply at a gate between its reasoning and its answer, so "the thinking
is on screen before any answer token" is checked without a timing assertion: the answer is not
sent until the test has seen the thinking.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from nexuschat.i18n import CATALOGUE
from tests.e2e.test_browser_chat import TIMEOUT_MS, messages, open_chat, send
from tests.e2e.test_inert_content import EVIL, PAYLOADS, assert_inert, guarded, replies

__all__ = ["guarded"]  # a fixture, used by name

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path("/tmp")
THOUGHTS = ("First I add the tens, then the ones. Thirty plus sixty is ninety, "
            "and eight plus four is twelve: one hundred and two.")
ANSWER = "The sum is 102, as the tens and the ones add up."


def test_thinking_streams_first_collapses_for_the_answer_and_survives_a_reload(page: Page,
                                                                                fake_api):
    fake_api.script({"kind": "reply", "reasoning": THOUGHTS, "text": ANSWER,
                     "reasoning_field": "reasoning_content", "tokens_per_second": 400,
                     "gate": "answer", "answer_gate": "rest", "answer_gate_after": 4})
    open_chat(page)

    send(page, "What is 38 + 64?")

    reply = messages(page).nth(1)
    thinking = reply.get_by_test_id("stExpander")
    # The thinking is the first thing the reply shows, open, while no answer has been sent.
    expect(thinking).to_contain_text("Thinking…")
    expect(reply.get_by_text("one hundred and two.")).to_be_visible()
    expect(reply.get_by_text("Waiting for the first token")).to_have_count(0)
    expect(reply.get_by_text(ANSWER)).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "nexuschat-e2e-thinking.png"))

    fake_api.release("answer")  # four words of the answer, then held again

    # The answer has started and is still streaming: the thinking is collapsed already.
    expect(reply).to_contain_text("The sum is 102,")
    expect(page.locator(".st-key-stop-stream")).to_be_visible()
    expect(thinking).to_contain_text("Thought for")
    expect(thinking).to_contain_text(f"{len(THOUGHTS)} characters")
    expect(reply.get_by_text("one hundred and two.")).to_be_hidden()  # collapsed
    page.screenshot(path=str(SCREENSHOTS / "nexuschat-e2e-answering.png"))

    fake_api.release("rest")

    expect(reply.get_by_text(ANSWER)).to_be_visible()
    expect(page.locator(".st-key-stop-stream")).to_have_count(0)
    expect(reply.get_by_text("one hundred and two.")).to_be_hidden()
    expect(reply).to_contain_text("reasoning tokens")
    page.screenshot(path=str(SCREENSHOTS / "nexuschat-e2e-thought.png"))

    page.reload()  # a new session: the stored reply, by the cookie and ?c=

    reply = messages(page).nth(1)
    expect(reply.get_by_text(ANSWER)).to_be_visible(timeout=TIMEOUT_MS)
    thinking = reply.get_by_test_id("stExpander")
    expect(thinking).to_contain_text("Thought for")
    expect(reply.get_by_text("one hundred and two.")).to_be_hidden()
    thinking.locator("summary").click()
    expect(reply.get_by_text("one hundred and two.")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert len(fake_api.chat_requests()) == 1


def test_the_thinking_texts_exist_in_chinese():
    zh = CATALOGUE["zh"]
    for key in ("chat.thinking_live", "chat.thought_for", "chat.thought", "chat.refusal",
                "meta.reasoning_tokens", "sidebar.thinking"):
        assert zh[key] and zh[key] != CATALOGUE["en"][key]


def test_hostile_thinking_refusals_and_part_types_render_inert(guarded, fake_api):
    page, left, dialogs = guarded
    part_type = f"<img src=x onerror=alert('part')> ![p]({EVIL}/img-part-type.png)"
    fake_api.script(
        {"kind": "reply", "reasoning": replies(*PAYLOADS[:17], "THINK-END"),
         "text": "ANSWER-ONE", "chunk_tokens": 40, "reasoning_field": "thinking_parts",
         "content_parts": True, "extra_parts": [{"type": part_type}]},
        {"kind": "reply", "refusal": replies(*PAYLOADS[17:], "REFUSAL-END"),
         "chunk_tokens": 40},
    )
    open_chat(page)

    send(page, "hostile thinking")
    reply = messages(page).nth(1)
    expect(reply).to_contain_text("ANSWER-ONE")
    expect(reply).to_contain_text("onerror=alert('part')")  # the part type, as text
    reply.get_by_test_id("stExpander").locator("summary").click()
    expect(reply).to_contain_text("THINK-END")
    send(page, "hostile refusal")
    expect(messages(page).nth(3)).to_contain_text("REFUSAL-END")
    expect(messages(page).nth(3)).to_contain_text("declined to answer")
    assert_inert(page, left, dialogs)
