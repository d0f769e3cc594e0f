"""Problems to show the user: an i18n key and the values for its placeholders."""

from __future__ import annotations

from dataclasses import dataclass, field


class Problem(ValueError):
    """Bad input the user can fix; `code` is an i18n key, `params` fill its placeholders."""

    def __init__(self, code: str, **params: object):
        self.code = code
        self.params = params
        detail = ", ".join(f"{k}={v!r}" for k, v in params.items())
        super().__init__(f"{code} ({detail})" if detail else code)


@dataclass
class ChatError(Exception):
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
