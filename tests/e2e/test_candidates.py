"""`n` = 3 in a real browser: the candidates stream side by side, the user picks candidate 2
and the conversation continues from it; the others stay as versions."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser_chat import messages, open_chat, send

pytestmark = pytest.mark.e2e

TEXTS = ["Red like a fire truck.", "Green like a meadow.", "Blue like the sea."]


def ask_for(page: Page, n: int) -> None:
    """Set "Candidates per reply" on the Settings page, then come back to the chat."""
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("link", name="Settings").click()
    box = page.get_by_role("spinbutton", name="Candidates per reply (n)")
    box.fill(str(n))
    box.press("Enter")
    expect(page.get_by_text("Fields sent with each request: n")).to_be_visible()
    sidebar.get_by_role("link", name="Chat").click()
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()


def test_pick_candidate_two_of_three_and_continue_from_it(page: Page, fake_api):
    fake_api.script({"kind": "reply", "texts": TEXTS, "answer_gate": "candidates",
                     "answer_gate_after": 2},
                    {"kind": "reply", "text": "Meadows are green because of chlorophyll."})
    open_chat(page)
    ask_for(page, 3)
    send(page, "pick a colour")

    # While they stream: each candidate in its own column, side by side, all begun.
    streaming = messages(page).nth(1)
    columns = streaming.get_by_test_id("stColumn")
    expect(columns).to_have_count(3)
    for index, text in enumerate(TEXTS):
        expect(columns.nth(index)).to_contain_text(text.split()[0])
    tops = {round(columns.nth(i).bounding_box()["y"]) for i in range(3)}
    assert len(tops) == 1  # one row on a wide screen
    fake_api.release("candidates")

    group = messages(page).nth(1)
    picks = group.get_by_role("button", name="Continue with this one")
    expect(picks).to_have_count(3)
    for text in TEXTS:
        expect(group).to_contain_text(text)
    expect(group).to_contain_text("for all 3 candidates of the request")
    expect(group.get_by_text("▌")).to_have_count(0)  # nothing left of the streaming bubble
    assert fake_api.chat_requests()[-1]["n"] == 3

    picks.nth(1).click()
    reply = messages(page).nth(1)
    expect(reply).to_contain_text("Green like a meadow.")
    expect(reply).not_to_contain_text("Red like a fire truck.")
    expect(reply).to_contain_text("2/3")  # the others are its versions
    expect(page.get_by_role("button", name="Continue with this one")).to_have_count(0)

    send(page, "why that one?")
    expect(messages(page).nth(3)).to_contain_text("chlorophyll")
    sent = fake_api.chat_requests()[-1]["messages"]
    assert [m["content"] for m in sent] == ["pick a colour", "Green like a meadow.",
                                           "why that one?"]
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_on_a_narrow_screen_the_candidates_stack(page: Page, fake_api):
    fake_api.script({"kind": "reply", "texts": TEXTS[:2]})
    open_chat(page)
    ask_for(page, 2)
    page.set_viewport_size({"width": 420, "height": 900})  # a phone (the sidebar folds away)
    send(page, "two please")
    group = messages(page).nth(1)
    expect(group.get_by_role("button", name="Continue with this one")).to_have_count(2)
    # One under the other (waited for: the layout settles after the last repaint).
    page.wait_for_function("""() => {
        const cells = document.querySelectorAll(
            '[data-testid="stChatMessage"] [data-testid="stColumn"]');
        if (cells.length !== 2) return false;
        const [a, b] = [...cells].map((c) => c.getBoundingClientRect());
        return b.top >= a.bottom - 1 && Math.abs(a.left - b.left) < 1;
    }""")


def test_stop_stops_every_candidate_and_keeps_what_arrived(page: Page, fake_api):
    fake_api.script({"kind": "reply", "texts": ["alpha beta gamma delta", "one two three four"],
                     "answer_gate": "held", "answer_gate_after": 2})
    open_chat(page)
    ask_for(page, 2)
    send(page, "two lists")
    columns = messages(page).nth(1).get_by_test_id("stColumn")
    expect(columns.nth(0)).to_contain_text("beta")
    expect(columns.nth(1)).to_contain_text("two")
    page.get_by_role("button", name="Stop").click()

    group = messages(page).nth(1)
    expect(group.get_by_role("button", name="Continue with this one")).to_have_count(2)
    expect(group.get_by_text("Stopped by you")).to_have_count(2)
    expect(group).to_contain_text("alpha beta")
    expect(group).to_contain_text("one two")
    expect(group).not_to_contain_text("delta")
    fake_api.release("held")
    expect(page.get_by_test_id("stException")).to_have_count(0)
