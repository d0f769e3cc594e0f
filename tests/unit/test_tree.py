"""The conversation tree, walked in one place (nexuschat.tree): what the store and an import
both show, what a sibling switch opens, and what an edit or a regenerate start from."""

from __future__ import annotations

from nexuschat.conversation import Conversation, Message
from nexuschat.images import PreparedImage
from nexuschat.tree import (
    Branch,
    branch,
    children,
    edit_view,
    latest_leaf,
    pick_leaf,
    regenerate_view,
)

# q1 ── a1 ── q2 ── a2
#   │     └── q2' ── a2'
#   └── a1'
#  q1' (another root: the first question edited)
LINKS = [("q1", None), ("a1", "q1"), ("q2", "a1"), ("a2", "q2"), ("q2'", "a1"),
         ("a2'", "q2'"), ("a1'", "q1"), ("q1'", None)]


def test_children_are_in_creation_order_and_roots_are_under_none():
    assert children(LINKS) == {None: ["q1", "q1'"], "q1": ["a1", "a1'"], "a1": ["q2", "q2'"],
                               "q2": ["a2"], "q2'": ["a2'"]}


def test_the_branch_to_a_leaf_and_the_sibling_groups_on_it():
    assert branch(LINKS, "a2") == Branch(
        path=("q1", "a1", "q2", "a2"),
        siblings={"q1": ("q1", "q1'"), "a1": ("a1", "a1'"), "q2": ("q2", "q2'")},
    )
    assert branch(LINKS, "a1'") == Branch(("q1", "a1'"), {"q1": ("q1", "q1'"),
                                                          "a1'": ("a1", "a1'")})
    assert branch(LINKS, "q1'") == Branch(("q1'",), {"q1'": ("q1", "q1'")})


def test_no_leaf_or_an_unknown_one_is_an_empty_branch():
    assert branch(LINKS, None) == Branch()
    assert branch(LINKS, "gone") == Branch()
    assert branch([], None) == Branch((), {})


def test_a_broken_or_cyclic_parent_chain_stops_the_walk():
    assert branch([("b", "missing"), ("c", "b")], "c").path == ("b", "c")
    cycle = branch([("x", "y"), ("y", "x")], "x")
    assert set(cycle.path) == {"x", "y"} and len(cycle.path) == 2


def test_the_latest_leaf_follows_the_most_recent_child_each_time():
    assert latest_leaf(LINKS, "q1") == "a1'"
    assert latest_leaf(LINKS, "a1") == "a2'"
    assert latest_leaf(LINKS, "q2") == "a2"
    assert latest_leaf(LINKS, "a2") == "a2"  # a leaf already
    assert latest_leaf([("x", "y"), ("y", "x")], "x") in ("x", "y")  # a cycle ends


def test_the_leaf_is_the_first_wanted_one_that_exists_else_the_latest():
    ids = ["a", "b", "c"]
    assert pick_leaf(ids, "b") == "b"
    assert pick_leaf(ids, "gone", "a") == "a"
    assert pick_leaf(ids, None, "gone") == "c"
    assert pick_leaf(ids) == "c"
    assert pick_leaf([], "a") is None


def chat(*texts: str) -> Conversation:
    conv = Conversation(title="t", model="m", params={"seed": 1}, siblings={"x": ("x", "y")})
    for i, text in enumerate(texts):
        conv = conv.append(Message("user" if i % 2 == 0 else "assistant", text))
    return conv


def test_a_regenerate_starts_from_the_branch_above_the_reply():
    conv = chat("q1", "a1", "q2", "a2")
    view = regenerate_view(conv, conv.messages[3].id)
    assert view.messages == conv.messages[:3]
    assert (view.id, view.title, view.model, view.params, view.siblings) == (
        conv.id, "t", "m", {"seed": 1}, {"x": ("x", "y")})  # the rest of the view stays
    assert regenerate_view(conv, conv.messages[1].id).messages == conv.messages[:1]


def test_an_edit_is_a_new_sibling_of_the_question_with_its_images():
    conv = chat("q1", "a1")
    picture = PreparedImage(b"\x89PNG...", "image/png", 4, 3, "cat.png", 9, 4, 3)
    question = Message("user", "what is this?", images=(picture,), parent_id=conv.last.id)
    conv = conv.append(question).append(Message("assistant", "a cat"))
    base, edited = edit_view(conv, question.id, "what colour is this?")
    assert base.messages == conv.messages[:2] and base.id == conv.id
    assert (edited.role, edited.content, edited.images) == ("user", "what colour is this?",
                                                            (picture,))
    assert edited.parent_id == question.parent_id and edited.id != question.id


def test_editing_the_first_question_makes_a_new_root():
    conv = chat("q1", "a1")
    base, edited = edit_view(conv, conv.messages[0].id, "q1 again")
    assert base.messages == () and edited.parent_id is None
