"""`n` > 1 candidates from one request: what a turn asks for, the sibling replies it leaves, and
the group the page shows side by side until one is picked (pure).

Choice 0 is the reply a turn always had (`LiveTurn.settle` places it: new, or in place of a
failed one); choices 1.. become its siblings, under the same parent, each with its own finish
reason and timings and the request's one usage (`ReplyMeta.candidates` says it is shared).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from nexuschat.conversation import Conversation, Message
from nexuschat.params import GenerationParams
from nexuschat.turns import INTERRUPTED, LiveTurn, TurnKind

INCOMPLETE = "error.stream_incomplete"  # a candidate the server never said the end of
GRID_FROM = 4  # this many candidates are drawn two by two (four columns are too narrow)


def requested(params: GenerationParams) -> int:
    """How many candidates the parameters ask for (1 when `n` is not set)."""
    return params.n if isinstance(params.n, int) and not isinstance(params.n, bool) \
        and params.n > 1 else 1


def request_params(params: GenerationParams, multiple_choices: bool,
                   kind: TurnKind) -> GenerationParams:
    """The parameters a turn is sent with: `n` only for a new reply from a model that gives
    several (a continuation extends one reply; a one-choice model is sent none)."""
    if requested(params) > 1 and (kind == "continue" or not multiple_choices):
        return replace(params, n=None)
    return params


def asks_unsupported(params: GenerationParams, multiple_choices: bool) -> bool:
    """Whether the user asked for candidates from a model that gives one per request."""
    return requested(params) > 1 and not multiple_choices


def candidate_id(turn_id: str, index: int) -> str:
    """Candidate `index`'s message id in the turn `turn_id` (the same on every save of it)."""
    return hashlib.sha256(f"{turn_id}:{index}".encode()).hexdigest()[:32]


def other_candidates(live: LiveTurn, first: Message, *,
                     interrupted: bool = False) -> tuple[Message, ...]:
    """Candidates 2..n as replies beside `first` (candidate 1 as placed in the conversation):
    as they stand (`interrupted`: what a crash would leave) or as the turn ended."""
    reply = live.reply
    out = []
    for index in reply.choice_indexes[1:]:
        if interrupted:
            meta = reply.choice_meta(index, "error", INTERRUPTED)
        elif live.status == "complete" and not reply.choice_complete(index):
            meta = reply.choice_meta(index, "error", INCOMPLETE)
        else:
            meta = reply.choice_meta(index, live.status, live.error_code, live.error_params)
        out.append(Message("assistant", reply.choice_content(index), meta=meta,
                           reasoning=reply.choice_reasoning(index),
                           id=candidate_id(live.reply_id, index), parent_id=first.parent_id,
                           created_at=first.created_at))
    return tuple(out)


@dataclass(frozen=True)
class CandidateGroup:
    """The replies one request gave, in candidate order, shown together until one is picked."""

    conversation_id: str
    replies: tuple[Message, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """The candidates' message ids."""
        return tuple(m.id for m in self.replies)


def group_of(conversation: Conversation, others: tuple[Message, ...]) -> CandidateGroup | None:
    """The group a finished turn leaves: its last reply and the other candidates (none: the
    server sent one)."""
    if not others or conversation.last is None:
        return None
    return CandidateGroup(conversation.id, (conversation.last, *others))


def shown_group(group: CandidateGroup | None,
                conversation: Conversation) -> CandidateGroup | None:
    """The group to draw in place of the conversation's last reply: while that reply is one of
    the candidates (before one is picked; a new message or another view ends it)."""
    last = conversation.last
    if group is None or last is None or group.conversation_id != conversation.id:
        return None
    return group if last.id in group.ids else None


def rows(count: int) -> tuple[int, ...]:
    """How many candidates each row of the side-by-side view holds."""
    if count >= GRID_FROM:
        return (2,) * (count // 2) + ((1,) if count % 2 else ())
    return (count,)
