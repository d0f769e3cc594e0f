"""Provider settings, resolved in one place: widget > st.secrets > environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_BASE_URL = "https://nexusflow.hk/v1"
DEFAULT_MODEL = "claude-sonnet-4-6"


@dataclass(frozen=True)
class Settings:
    """Where to send requests and with which key; the key never leaves memory."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str = ""
    model: str = DEFAULT_MODEL
    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    def __repr__(self) -> str:  # the key must not reach logs or tracebacks
        return (
            f"Settings(base_url={self.base_url!r}, api_key={'***' if self.api_key else ''!r}, "
            f"model={self.model!r})"
        )

    @property
    def has_key(self) -> bool:
        """Whether any API key is configured."""
        return bool(self.api_key)


def _first(*values: object) -> str:
    for value in values:
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _float(value: str, default: float) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default


def resolve_settings(
    widgets: Mapping[str, object] | None = None,
    secrets: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the three sources; the first non-empty value wins, in that order."""
    widgets = widgets or {}
    secrets = secrets or {}
    env = os.environ if env is None else env

    def pick(name: str, *fallbacks: str) -> str:
        names = (name, *fallbacks)
        return _first(
            widgets.get(name),
            *(secrets.get(n) for n in names),
            *(env.get(n) for n in names),
        )

    return Settings(
        base_url=pick("NEXUSCHAT_BASE_URL") or DEFAULT_BASE_URL,
        api_key=pick("NEXUSCHAT_API_KEY", "OPENAI_API_KEY"),
        model=pick("NEXUSCHAT_MODEL") or DEFAULT_MODEL,
        connect_timeout=_float(pick("NEXUSCHAT_CONNECT_TIMEOUT"), 10.0),
        read_timeout=_float(pick("NEXUSCHAT_READ_TIMEOUT"), 120.0),
    )


def key_source(
    widgets: Mapping[str, object] | None,
    secrets: Mapping[str, object] | None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Where the API key came from: "widget", "secrets", "env" or "" (none)."""
    env = os.environ if env is None else env
    if _first((widgets or {}).get("NEXUSCHAT_API_KEY")):
        return "widget"
    names = ("NEXUSCHAT_API_KEY", "OPENAI_API_KEY")
    if _first(*((secrets or {}).get(n) for n in names)):
        return "secrets"
    if _first(*(env.get(n) for n in names)):
        return "env"
    return ""
