"""A problem to show the user: an i18n key and the values for its placeholders."""

from __future__ import annotations


class Problem(ValueError):
    """Bad input the user can fix; `code` is an i18n key, `params` fill its placeholders."""

    def __init__(self, code: str, **params: object):
        self.code = code
        self.params = params
        detail = ", ".join(f"{k}={v!r}" for k, v in params.items())
        super().__init__(f"{code} ({detail})" if detail else code)
