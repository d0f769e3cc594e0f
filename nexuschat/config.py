"""Provider settings, resolved in one place: widget > st.secrets > environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from nexuschat.errors import Note
from nexuschat.local import LOCAL_MODEL
from nexuschat.models import DEPLOYER_SETTING, ModelCatalog, bundled, deployer_catalog
from nexuschat.netguard import (
    NetworkPolicy,
    host_of,
    is_public,
    literal_address,
    names_loopback,
    normalize_base_url,
)

DEFAULT_BASE_URL = "https://nexusflow.hk/v1"
DEFAULT_MODEL = "claude-sonnet-4-6"
# Providers: an OpenAI-compatible API (nexusflow by default), or the bundled model on this machine.
PROVIDER_API = "api"
PROVIDER_LOCAL = "local"
PROVIDERS = (PROVIDER_API, PROVIDER_LOCAL)
_PROVIDER_NAMES = {"api": PROVIDER_API, "nexusflow": PROVIDER_API, "remote": PROVIDER_API,
                   "local": PROVIDER_LOCAL, "offline": PROVIDER_LOCAL}


MODE_LOCAL = "local"  # one user on this machine: every setting is theirs to change
MODE_HOSTED = "hosted"  # strangers share one deploy: its key and network are the deployer's
ANY_PUBLIC_HTTPS = "*"  # in NEXUSCHAT_ALLOWED_BASE_URLS: any https URL of a public host
KEY_DEPLOY = "deploy"  # Settings.key_owner: the key from secrets or the environment
KEY_VISITOR = "visitor"  # a key typed in the sidebar (session memory only)
_TRUE = ("1", "true", "yes", "on")


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
    mode: str = MODE_LOCAL
    key_owner: str = ""  # KEY_DEPLOY, KEY_VISITOR or "" (no key)
    # Hosted: why this base URL is refused (an i18n key; requests are then never sent), and
    # the value its message names.
    url_problem: str = ""
    url_problem_detail: str = ""
    network: NetworkPolicy | None = None  # hosted: the guard every connection goes through
    # What each model can do: the bundled catalog, extended by the deployer's NEXUSCHAT_MODELS.
    catalog: ModelCatalog = field(default_factory=bundled)

    def __repr__(self) -> str:  # the key must not reach logs or tracebacks
        return (
            f"Settings(base_url={self.base_url!r}, api_key={'***' if self.api_key else ''!r}, "
            f"model={self.model!r}, provider={self.provider!r}, mode={self.mode!r})"
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
        """Whether requests cannot work until a key is set: on a hosted deploy, any API without
        one; on this machine, nexusflow without one (a local server may need none)."""
        if self.is_local or self.api_key:
            return False
        return self.mode == MODE_HOSTED or self.base_url == DEFAULT_BASE_URL

    @property
    def can_send(self) -> bool:
        """Whether a request may be sent with these settings."""
        return not self.needs_key and not self.url_problem

    @property
    def url_notice(self) -> Note | None:
        """Why the base URL is refused, as a notice to show; None when it is not."""
        return Note(self.url_problem, {"detail": self.url_problem_detail}) \
            if self.url_problem else None


@dataclass(frozen=True)
class Deployment:
    """What the deployer configured (st.secrets > environment), never what a visitor typed."""

    mode: str = MODE_LOCAL
    base_url: str = DEFAULT_BASE_URL  # the deploy's own API
    api_key: str = ""  # the deploy's own key
    allow_user_keys: bool = False  # NEXUSCHAT_ALLOW_USER_KEYS: visitors may bring their own
    # Normalized base URLs a visitor's own key may be used with: the deploy's first, then
    # NEXUSCHAT_ALLOWED_BASE_URLS (which may hold ANY_PUBLIC_HTTPS).
    allowed_base_urls: tuple[str, ...] = field(default_factory=tuple)
    # NEXUSCHAT_MODELS: the bundled model catalog extended by the deployer's (tables in
    # secrets, or TOML text), or the bundled one and why the setting was not used.
    catalog: ModelCatalog = field(default_factory=bundled)

    def __repr__(self) -> str:
        return (f"Deployment(mode={self.mode!r}, base_url={self.base_url!r}, "
                f"api_key={'***' if self.api_key else ''!r}, "
                f"allow_user_keys={self.allow_user_keys!r}, "
                f"allowed_base_urls={self.allowed_base_urls!r})")

    @property
    def hosted(self) -> bool:
        """Whether strangers share this deploy."""
        return self.mode == MODE_HOSTED

    @property
    def takes_visitor_keys(self) -> bool:
        """Whether a key typed in the sidebar is used (always on this machine)."""
        return not self.hosted or not self.api_key or self.allow_user_keys

    @property
    def visitor_urls(self) -> bool:
        """Whether a visitor with their own key may choose another base URL than the deploy's."""
        return not self.hosted or len(self.allowed_base_urls) > 1

    @property
    def trusted_hosts(self) -> frozenset[str]:
        """Hosts the deployer listed: reached whatever they resolve to (a private vLLM, say)."""
        return frozenset(host_of(url) for url in self.allowed_base_urls
                         if url != ANY_PUBLIC_HTTPS)


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


def _url_list(value: object) -> list[str]:
    items = value if isinstance(value, list | tuple) else str(value or "").replace(",", " ").split()
    urls = []
    for item in items:
        item = str(item).strip()
        urls.append(ANY_PUBLIC_HTTPS if item == ANY_PUBLIC_HTTPS else normalize_base_url(item))
    return [url for url in urls if url]


def resolve_deployment(secrets: Mapping[str, object] | None = None,
                       env: Mapping[str, str] | None = None,
                       server_address: str | None = "127.0.0.1") -> Deployment:
    """The deployer's settings; `server_address` is where Streamlit listens (it sets the mode
    when NEXUSCHAT_MODE does not)."""
    secrets = secrets or {}
    env = os.environ if env is None else env

    def pick(*names: str) -> object:
        for name in names:
            if name in secrets and _first(secrets[name]):
                return secrets[name]
        return _first(*(env.get(n) for n in names))

    mode = deploy_mode(_first(pick("NEXUSCHAT_MODE")), server_address)
    base_url = _first(pick("NEXUSCHAT_BASE_URL")) or DEFAULT_BASE_URL
    own = normalize_base_url(base_url)
    listed = [url for url in _url_list(pick("NEXUSCHAT_ALLOWED_BASE_URLS")) if url != own]
    return Deployment(
        mode=mode,
        base_url=base_url,
        api_key=_first(pick("NEXUSCHAT_API_KEY", "OPENAI_API_KEY")),
        allow_user_keys=_first(pick("NEXUSCHAT_ALLOW_USER_KEYS")).lower() in _TRUE,
        allowed_base_urls=tuple(dict.fromkeys([own, *listed])) if own else tuple(listed),
        catalog=deployer_catalog(_catalog_setting(secrets, env)),
    )


def _catalog_setting(secrets: Mapping[str, object], env: Mapping[str, str]) -> object:
    """NEXUSCHAT_MODELS as given: tables from secrets, else TOML text from either."""
    value = secrets.get(DEPLOYER_SETTING)
    if isinstance(value, Mapping) or _first(value):
        return value
    return env.get(DEPLOYER_SETTING)


def url_problem(url: str, deployment: Deployment) -> tuple[str, str]:
    """Why a visitor's base URL is refused on this deploy (i18n key, detail); ("", "") if not.

    Only the cheap part is judged here, from the URL alone (the sidebar says it at once);
    where a host name really leads is checked when each connection opens (nexuschat.netguard).
    """
    if not deployment.hosted:
        return "", ""
    normalized = normalize_base_url(url)
    if not normalized:
        return "policy.url_invalid", url
    if normalized in deployment.allowed_base_urls:
        return "", ""
    if ANY_PUBLIC_HTTPS not in deployment.allowed_base_urls:
        listed = [u for u in deployment.allowed_base_urls if u != ANY_PUBLIC_HTTPS]
        return "policy.url_not_allowed", ", ".join(listed)
    if not normalized.startswith("https://"):
        return "policy.url_https_only", ""
    host = host_of(normalized)
    address = literal_address(host)
    if names_loopback(host) or (address is not None and not is_public(address)):
        return "policy.url_private", host
    return "", ""


def resolve_settings(
    widgets: Mapping[str, object] | None = None,
    secrets: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    server_address: str | None = "127.0.0.1",
) -> Settings:
    """Merge the three sources; the first non-empty value wins, in that order.

    On a hosted deploy a visitor's widgets choose only what is theirs: the model, the provider,
    and, where the deploy takes visitors' keys, their own key and a base URL it allows. While
    the deploy's own key is in use, the base URL is the deploy's (the key goes nowhere else).
    """
    widgets = widgets or {}
    secrets = secrets or {}
    env = os.environ if env is None else env
    deployment = resolve_deployment(secrets, env, server_address)

    def pick(name: str, *fallbacks: str) -> str:
        names = (name, *fallbacks)
        return _first(
            widgets.get(name),
            *(secrets.get(n) for n in names),
            *(env.get(n) for n in names),
        )

    typed_key = _first(widgets.get("NEXUSCHAT_API_KEY"))
    typed_url = _first(widgets.get("NEXUSCHAT_BASE_URL"))
    problem = ("", "")
    network = None
    if not deployment.hosted:
        base_url, api_key = pick("NEXUSCHAT_BASE_URL"), pick("NEXUSCHAT_API_KEY", "OPENAI_API_KEY")
        key_owner = KEY_VISITOR if typed_key else KEY_DEPLOY if api_key else ""
    elif typed_key and deployment.takes_visitor_keys:
        base_url, api_key, key_owner = typed_url or deployment.base_url, typed_key, KEY_VISITOR
        problem = url_problem(base_url, deployment)
    else:
        base_url, api_key = deployment.base_url, deployment.api_key
        key_owner = KEY_DEPLOY if api_key else ""
    configured = bool(api_key or typed_url or pick("NEXUSCHAT_BASE_URL"))
    provider = choose_provider(pick("NEXUSCHAT_PROVIDER"), configured=configured)
    local = provider == PROVIDER_LOCAL
    base_url = "" if local else base_url or DEFAULT_BASE_URL
    if deployment.hosted and not local:
        network = NetworkPolicy(base_url, deployment.trusted_hosts)
    return Settings(
        # The local server's URL is known once it runs; the key is only for the API it names.
        base_url=base_url,
        api_key="" if local else api_key,
        model=LOCAL_MODEL if local else pick("NEXUSCHAT_MODEL") or DEFAULT_MODEL,
        connect_timeout=_float(pick("NEXUSCHAT_CONNECT_TIMEOUT"), 10.0),
        read_timeout=_float(pick("NEXUSCHAT_READ_TIMEOUT"), 120.0),
        provider=provider,
        mode=deployment.mode,
        key_owner="" if local else key_owner,
        url_problem="" if local else problem[0],
        url_problem_detail="" if local else problem[1],
        network=network,
        catalog=deployment.catalog,
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
