"""Conversation titles: one rule for a new chat, an import and a stored tree without one."""

from __future__ import annotations

from nexuschat.conversation import TITLE_CHARS, Message, first_user_title, make_title


def test_titles_come_from_the_first_line_cut_at_a_word():
    assert make_title("\n  Hello   world \nsecond line") == "Hello world"
    long = make_title("word " * 30)
    assert long.endswith("…") and len(long) <= TITLE_CHARS + 1 and not long[:-1].endswith(" ")
    assert make_title("这是一个很长的中文问题" * 10) == ("这是一个很长的中文问题" * 10)[:60] + "…"
    assert make_title("") == ""


def test_a_word_is_cut_only_when_no_space_is_in_the_second_half():
    head = "a" * 25 + " " + "b" * 50  # the only space is in the first half: cut the word
    assert make_title(head) == head[:60] + "…"
    words = "x" * 40 + " " + "y" * 40
    assert make_title(words) == "x" * 40 + "…"
    assert make_title("exactly sixty " + "c" * 46) == "exactly sixty " + "c" * 46  # 60: kept


def test_the_title_is_the_first_user_message_with_text():
    messages = [Message("system", "You are terse."), Message("user", "   \n  "),
                Message("assistant", "Hi!"), Message("user", "\nPlan a trip\nto Kyoto"),
                Message("user", "later")]
    assert first_user_title(messages) == "Plan a trip"
    assert first_user_title([Message("assistant", "only replies")]) == ""
    assert first_user_title([]) == ""
