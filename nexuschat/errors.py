"""What the app tells the user, as data: an i18n key and the values for its placeholders.

`Notice` is the one base: bad input (`Problem`; `images.ImageError` and `exports.ImportProblem`
are Problems), a turn's failure (`ChatError`), an invalid setting (`params.ParamError`), the
local model's start (`local.LocalServerError`), a remark (`Note`; `exports.ImportNote`), a
deploy's limit (`limits.LimitHit`). Every one is worded by `nexuschat.describe.describe`: the
page's through `components.messages.notice_text`, a file's as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class Notice:
    """Something to tell the user: `code` is an i18n key, `params` fill its placeholders."""

    __slots__ = ()
    code: str
    params: Mapping[str, object]


class Problem(Notice, ValueError):
    """Bad input the user can fix; `code` is an i18n key, `params` fill its placeholders."""

    def __init__(self, code: str, **params: object):
        self.code = code
        self.params = params
        detail = ", ".join(f"{k}={v!r}" for k, v in params.items())
        super().__init__(f"{code} ({detail})" if detail else code)


@dataclass(frozen=True)
class Note(Notice):
    """A notice that is not a failure (an import's remark, an outcome to confirm)."""

    code: str
    params: dict = field(default_factory=dict)

    def __iter__(self):
        """Unpacks as (code, params), like the tuple ImportNote once was."""
        return iter((self.code, self.params))


@dataclass
class ChatError(Notice, Exception):
    """A failure the user can read: `code` is an i18n key; `retry_after` is in seconds.

    The one error type a turn's reader raises (nexuschat.api re-exports it): whatever the
    server sent, a reply either folds it or ends with one of these, keeping what arrived.
    """

    code: str
    params: dict = field(default_factory=dict)
    status: int | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.code} {self.params}"
