"""The conversation tree, walked in one place: the branch to a leaf and its sibling groups, the
latest leaf below a message, and the views an edit or a regenerate start from (pure).

The store walks rows and an import walks messages; both hand over (id, parent id) links in
creation order, so "oldest first" and "the most recent child" mean the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from nexuschat.conversation import Conversation, Message

Link = tuple[str, str | None]  # (a message's id, its parent's id; None for a root)


@dataclass(frozen=True)
class Branch:
    """The ids from a root down to a leaf, and the sibling groups of the messages on it."""

    path: tuple[str, ...] = ()
    # For each message on the path that has siblings: all of them (itself included), oldest
    # first (what Conversation.siblings holds).
    siblings: dict[str, tuple[str, ...]] = field(default_factory=dict)


def children(links: Iterable[Link]) -> dict[str | None, list[str]]:
    """Each message's children (None: the roots), oldest first."""
    out: dict[str | None, list[str]] = {}
    for message_id, parent_id in links:
        out.setdefault(parent_id, []).append(message_id)
    return out


def branch(links: Sequence[Link], leaf_id: str | None) -> Branch:
    """The branch ending at `leaf_id` (none: empty); a broken or cyclic parent chain stops the
    walk."""
    parents = dict(links)
    path: list[str] = []
    seen: set[str] = set()
    node = leaf_id
    while node is not None and node in parents and node not in seen:
        seen.add(node)
        path.append(node)
        node = parents[node]
    path.reverse()
    groups = children(links)
    siblings = {mid: tuple(groups[parents[mid]]) for mid in path
                if len(groups[parents[mid]]) > 1}
    return Branch(tuple(path), siblings)


def latest_leaf(links: Sequence[Link], message_id: str) -> str:
    """Down from `message_id` through the most recent child each time, to a leaf."""
    groups = children(links)
    seen = {message_id}
    while groups.get(message_id) and groups[message_id][-1] not in seen:
        message_id = groups[message_id][-1]
        seen.add(message_id)
    return message_id


def pick_leaf(ids: Sequence[str], *wanted: str | None) -> str | None:
    """The first of `wanted` that is one of `ids`, else the latest of `ids` (None: no ids)."""
    known = set(ids)
    return next((w for w in wanted if w is not None and w in known), ids[-1] if ids else None)


def regenerate_view(conversation: Conversation, message_id: str) -> Conversation:
    """What a regenerate of the reply `message_id` starts from: the branch above its turn (the
    new reply becomes a sibling of the turn's first reply). A reply that follows tool rounds
    is regenerated with them: a branch never starts between a call and its result."""
    start = turn_start(conversation.messages, _index(conversation, message_id))
    return replace(conversation, messages=conversation.messages[:start])


def turn_start(messages: Sequence[Message], index: int) -> int:
    """Where the turn holding `messages[index]` begins: back over the tool rounds before it
    (their results, and the replies with calls they answer) to its first reply."""
    while index > 0 and (messages[index - 1].role == "tool" or (
            messages[index - 1].role == "assistant" and messages[index - 1].tool_calls)):
        index -= 1
    return index


def edit_view(conversation: Conversation, message_id: str,
              text: str) -> tuple[Conversation, Message]:
    """What an edit of the question `message_id` starts from (the branch above it), and the
    edited question: a new sibling of the original, with the original's images."""
    index = _index(conversation, message_id)
    original = conversation.messages[index]
    edited = Message("user", text, images=original.images, parent_id=original.parent_id)
    return replace(conversation, messages=conversation.messages[:index]), edited


def _index(conversation: Conversation, message_id: str) -> int:
    return next(i for i, m in enumerate(conversation.messages) if m.id == message_id)
