"""Provider settings, resolved in one place: widget > st.secrets > environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from nexuschat.local import LOCAL_MODEL

DEFAULT_BASE_URL = "https://nexusflow.hk/v1"
DEFAULT_MODEL = "claude-sonnet-4-6"
# Providers: an OpenAI-compatible API (nexusflow by default), or the bundled model on this machine.
PROVIDER_API = "api"
PROVIDER_LOCAL = "local"
PROVIDERS = (PROVIDER_API, PROVIDER_LOCAL)
_PROVIDER_NAMES = {"api": PROVIDER_API, "nexusflow": PROVIDER_API, "remote": PROVIDER_API,
                   "local": PROVIDER_LOCAL, "offline": PROVIDER_LOCAL}


@dataclass(frozen=True)
class Settings:
    """Where to send requests and with which key; the key never leaves memory."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str = ""
    model: str = DEFAULT_MODEL
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    # "local": the bundled model; base_url is then the server's, set once it runs ("" before).
    provider: str = PROVIDER_API

    def __repr__(self) -> str:  # the key must not reach logs or tracebacks
        return (
            f"Settings(base_url={self.base_url!r}, api_key={'***' if self.api_key else ''!r}, "
            f"model={self.model!r}, provider={self.provider!r})"
        )

    @property
    def is_local(self) -> bool:
        """Whether replies come from the bundled local model."""
        return self.provider == PROVIDER_LOCAL

    @property
    def has_key(self) -> bool:
        """Whether any API key is configured."""
        return bool(self.api_key)

    @property
    def needs_key(self) -> bool:
        """Whether requests cannot work until a key is set (nexusflow without one; not local)."""
        return not self.is_local and not self.api_key and self.base_url == DEFAULT_BASE_URL


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

    base_url = pick("NEXUSCHAT_BASE_URL")
    api_key = pick("NEXUSCHAT_API_KEY", "OPENAI_API_KEY")
    provider = choose_provider(pick("NEXUSCHAT_PROVIDER"), configured=bool(api_key or base_url))
    local = provider == PROVIDER_LOCAL
    return Settings(
        # The local server's URL is known once it runs; the key is only for the API it names.
        base_url="" if local else base_url or DEFAULT_BASE_URL,
        api_key="" if local else api_key,
        model=LOCAL_MODEL if local else pick("NEXUSCHAT_MODEL") or DEFAULT_MODEL,
        connect_timeout=_float(pick("NEXUSCHAT_CONNECT_TIMEOUT"), 10.0),
        read_timeout=_float(pick("NEXUSCHAT_READ_TIMEOUT"), 120.0),
        provider=provider,
    )


def choose_provider(requested: str, *, configured: bool) -> str:
    """NEXUSCHAT_PROVIDER when it names one; else the API if a key or URL is set, else local."""
    named = _PROVIDER_NAMES.get(requested.strip().lower())
    if named:
        return named
    return PROVIDER_API if configured else PROVIDER_LOCAL


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


LOOPBACK_ADDRESSES = ("127.0.0.1", "localhost", "::1")


def deploy_mode(setting: str | None, server_address: str | None) -> str:
    """"local" (one user: a fixed owner) or "hosted" (owners are logins or browser sessions).

    NEXUSCHAT_MODE decides when set. Otherwise only a server bound to loopback is local: a
    deploy that forgot the setting must never show one visitor another's conversations.
    """
    if setting and setting.strip().lower() in ("local", "hosted"):
        return setting.strip().lower()
    return "local" if (server_address or "").strip() in LOOPBACK_ADDRESSES else "hosted"
