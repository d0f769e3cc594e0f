"""What one owner may use of a hosted deploy: the limits, and the pure rules that apply them.

The counts come from the store's request log (`Store.admit`), so every replica of a deploy
agrees, and the rules here decide. Per-message limits (images, upload size, length) are checked
before anything is read or sent; per-request limits (requests per minute, tokens per day,
concurrent replies) when a turn starts. What the deployer's key pays for (tokens per day, the
max_tokens ceiling) does not apply while a visitor uses a key of their own; what protects the
server (requests per minute, concurrency and the message limits) always applies.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from nexuschat.errors import Notice
from nexuschat.params import GenerationParams

WINDOW_S = 60.0  # requests per minute: a sliding minute
DAY_S = 86_400.0  # tokens per day: a UTC day (00:00 to 00:00)
CHARS_PER_TOKEN = 4  # an estimate, where a server reports no usage
_OFF = ("", "0", "off", "none", "no", "false", "unlimited")


@dataclass(frozen=True)
class Limits:
    """What one owner may use; None: no limit."""

    requests_per_minute: int | None = None
    tokens_per_day: int | None = None
    concurrent_streams: int | None = None
    images_per_message: int | None = None
    upload_mb: float | None = None
    message_chars: int | None = None
    max_tokens: int | None = None


# Safe for a deploy shared with strangers on the deployer's key: a person chatting never meets
# them; a script hammering the deploy does within a minute.
HOSTED_DEFAULTS = Limits(requests_per_minute=10, tokens_per_day=200_000, concurrent_streams=2,
                         images_per_message=6, upload_mb=20, message_chars=20_000,
                         max_tokens=4096)
SETTING_NAMES = {f.name: f"NEXUSCHAT_LIMIT_{f.name.upper()}" for f in fields(Limits)}


def resolve_limits(secrets: Mapping[str, object] | None, env: Mapping[str, str] | None, *,
                   hosted: bool) -> Limits:
    """Each NEXUSCHAT_LIMIT_* setting (secrets > environment; 0 or "off": none), else the
    hosted default on a hosted deploy and no limit on this machine."""
    secrets = secrets or {}
    env = os.environ if env is None else env
    defaults = HOSTED_DEFAULTS if hosted else Limits()
    values = {}
    for name, setting in SETTING_NAMES.items():
        raw = secrets.get(setting)
        raw = env.get(setting) if raw is None or not str(raw).strip() else raw
        values[name] = _number(raw, getattr(defaults, name), float if name == "upload_mb" else int)
    return Limits(**values)


def _number(raw: object, default, kind):
    if raw is None:
        return default
    text = str(raw).strip().lower().replace("_", "")
    if text in _OFF:
        return None
    try:
        value = kind(float(text))
    except ValueError:
        return default  # a typo keeps the safe default rather than lifting the limit
    return value if value > 0 else None


@dataclass(frozen=True)
class Usage:
    """One owner's recent use, as the request log has it."""

    recent_starts: tuple[float, ...] = ()  # request start times in the last minute, oldest first
    tokens_today: int = 0  # on the deployer's key, this UTC day
    open_streams: int = 0  # replies being written now


@dataclass(frozen=True)
class LimitHit(Notice):
    """A limit that holds a request back: which (an i18n key), its number, when it resets."""

    code: str
    limit: float
    resets_at: float | None = None  # epoch seconds; None: when one of the owner's replies ends
    count: float | None = None  # how much the message has, for the per-message limits

    @property
    def params(self) -> dict[str, float]:
        """Its numbers, as a Notice's parameters (the ones it has)."""
        return {name: value for name, value in (("limit", self.limit), ("count", self.count),
                                                ("resets_at", self.resets_at))
                if value is not None}

    def wait_s(self, now: float) -> float | None:
        """Seconds until it resets (None: not at a known time)."""
        return None if self.resets_at is None else max(0.0, self.resets_at - now)


def day_start(now: float) -> float:
    """The start of the UTC day `now` falls in."""
    return math.floor(now / DAY_S) * DAY_S


def check_request(usage: Usage, limits: Limits, now: float, *,
                  deploy_key: bool) -> LimitHit | None:
    """The first per-request limit another request would break, if any."""
    if limits.concurrent_streams is not None and usage.open_streams >= limits.concurrent_streams:
        return LimitHit("limit.concurrent_streams", limits.concurrent_streams)
    if limits.requests_per_minute is not None:
        recent = [s for s in usage.recent_starts if s > now - WINDOW_S]
        if len(recent) >= limits.requests_per_minute:
            # Free again when the oldest request that counts leaves the window.
            oldest = recent[len(recent) - limits.requests_per_minute]
            return LimitHit("limit.requests_per_minute", limits.requests_per_minute,
                            oldest + WINDOW_S)
    if deploy_key and limits.tokens_per_day is not None \
            and usage.tokens_today >= limits.tokens_per_day:
        return LimitHit("limit.tokens_per_day", limits.tokens_per_day, day_start(now) + DAY_S)
    return None


def check_message(text: str, image_count: int, upload_bytes: int,
                  limits: Limits) -> LimitHit | None:
    """The first per-message limit a message breaks, if any (upload size first: oversized
    files are not even read)."""
    if limits.upload_mb is not None and upload_bytes > limits.upload_mb * 1024 * 1024:
        return LimitHit("limit.upload_mb", limits.upload_mb, count=upload_bytes)
    if limits.images_per_message is not None and image_count > limits.images_per_message:
        return LimitHit("limit.images_per_message", limits.images_per_message, count=image_count)
    if limits.message_chars is not None and len(text) > limits.message_chars:
        return LimitHit("limit.message_chars", limits.message_chars, count=len(text))
    return None


def capped(params: GenerationParams, limits: Limits, *, deploy_key: bool,
           model_max: int | None = None) -> GenerationParams:
    """The parameters to send: max_tokens at most the model's longest reply (`model_max`, from
    the catalog) and the deploy's ceiling while its key pays (the ceiling itself, within the
    model's, when the user set none). The deploy's ceiling is per request: with `n`
    candidates each may write its share (`candidate_ceiling`)."""
    ceiling = candidate_ceiling(limits.max_tokens, params.n) if deploy_key else None
    asked = params.max_tokens
    if ceiling is not None and (asked is None or asked > ceiling):
        asked = ceiling
    if model_max is not None and asked is not None and asked > model_max:
        asked = model_max
    return params if asked == params.max_tokens else replace(params, max_tokens=asked)


def max_tokens_ceiling(limits: Limits, *, deploy_key: bool,
                       model_max: int | None = None) -> int | None:
    """The most max_tokens may be set to: the lower of the model's longest reply and the
    deploy's ceiling while its key pays (None: no limit known)."""
    ceilings = [c for c in (limits.max_tokens if deploy_key else None, model_max) if c]
    return min(ceilings) if ceilings else None


def candidate_ceiling(ceiling: int | None, n: int | None) -> int | None:
    """What each of `n` candidates may write under a per-request ceiling (at least 1 token)."""
    if ceiling is None:
        return None
    return max(1, ceiling // max(1, n or 1))


def estimate_tokens(characters: int) -> int:
    """A token count from a character count, where the server reported none."""
    return math.ceil(characters / CHARS_PER_TOKEN)
