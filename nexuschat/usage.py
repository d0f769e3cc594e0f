"""What the Usage page shows, as plain data: the store's aggregates over the request log
(`Store.usage_report`, `usage_by_owner`, `standings`) and the pure reshaping into the tables
its charts draw (per day, per model, per kind of error, per user).

Days are the viewer's: a request belongs to the day its start falls in at the browser's UTC
offset (`offset_s`, seconds east of UTC), so "today" is the viewer's today. Amounts are summed
per currency in SQL and converted to the one shown here, at the exchange rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from nexuschat.cost import convert
from nexuschat.limits import Limits

DAY_S = 86_400
_EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 (the store's day buckets)."""
    return (day - _EPOCH).days


def day_of(number: int) -> dt.date:
    """The date of a day bucket."""
    return _EPOCH + dt.timedelta(days=int(number))


def period_bounds(first: dt.date, last: dt.date, offset_s: int) -> tuple[float, float]:
    """Epoch seconds [start, end) of the days `first` to `last` (both included) at a UTC
    offset of `offset_s` seconds (east positive)."""
    if last < first:
        first, last = last, first
    return (day_number(first) * DAY_S - offset_s, (day_number(last) + 1) * DAY_S - offset_s)


@dataclass(frozen=True)
class DayUsage:
    """One model's requests on one day: counts, tokens and cost per currency."""

    day: dt.date
    model: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float
    cost_cny: float
    unpriced: int  # requests with usage but no price: their cost is unknown

    def cost(self, currency: str, usd_cny: float) -> float:
        """Both currencies' amounts in one."""
        return (convert(self.cost_usd, "USD", currency, usd_cny)
                + convert(self.cost_cny, "CNY", currency, usd_cny))


@dataclass(frozen=True)
class ModelSpeed:
    """How fast a model answered: median time to first token and tokens per second."""

    model: str
    replies: int
    median_ttft_s: float | None
    median_tokens_per_s: float | None


@dataclass(frozen=True)
class UsageReport:
    """An owner's (or everyone's) use over a period, as the store summed it."""

    days: tuple[DayUsage, ...] = ()
    errors: tuple[tuple[str, int], ...] = ()  # (error code, requests), most first
    speeds: tuple[ModelSpeed, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether no request started in the period."""
        return not self.days

    @property
    def requests(self) -> int:
        """Requests in the period."""
        return sum(d.requests for d in self.days)

    @property
    def error_count(self) -> int:
        """Requests that failed."""
        return sum(d.errors for d in self.days)

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens, as servers reported them."""
        return sum(d.prompt_tokens for d in self.days)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens, reasoning included."""
        return sum(d.completion_tokens for d in self.days)

    @property
    def unpriced(self) -> int:
        """Requests whose cost is unknown (no price for their model)."""
        return sum(d.unpriced for d in self.days)

    def cost(self, currency: str, usd_cny: float) -> float:
        """What the period cost, in one currency."""
        return sum(d.cost(currency, usd_cny) for d in self.days)


def per_day(report: UsageReport, currency: str, usd_cny: float) -> list[dict]:
    """One row per day and model: the cost and token charts' table."""
    return [{"day": d.day, "model": d.model, "requests": d.requests, "errors": d.errors,
             "prompt_tokens": d.prompt_tokens, "completion_tokens": d.completion_tokens,
             "cached_tokens": d.cached_tokens, "cost": d.cost(currency, usd_cny)}
            for d in sorted(report.days, key=lambda d: (d.day, d.model))]


def per_model(report: UsageReport, currency: str, usd_cny: float) -> list[dict]:
    """One row per model over the whole period, costliest first, with its speed."""
    totals: dict[str, dict] = {}
    for d in report.days:
        row = totals.setdefault(d.model, {"model": d.model, "requests": 0, "errors": 0,
                                          "prompt_tokens": 0, "completion_tokens": 0,
                                          "cost": 0.0, "unpriced": 0})
        row["requests"] += d.requests
        row["errors"] += d.errors
        row["prompt_tokens"] += d.prompt_tokens
        row["completion_tokens"] += d.completion_tokens
        row["cost"] += d.cost(currency, usd_cny)
        row["unpriced"] += d.unpriced
    speeds = {s.model: s for s in report.speeds}
    for model, row in totals.items():
        speed = speeds.get(model)
        row["median_ttft_s"] = speed.median_ttft_s if speed else None
        row["median_tokens_per_s"] = speed.median_tokens_per_s if speed else None
    return sorted(totals.values(), key=lambda r: (-r["cost"], -r["requests"], r["model"]))


def token_days(report: UsageReport) -> list[dict]:
    """Prompt and completion tokens per day, one row per day and kind (a stacked chart)."""
    days: dict[dt.date, list[int]] = {}
    for d in report.days:
        pair = days.setdefault(d.day, [0, 0])
        pair[0] += d.prompt_tokens
        pair[1] += d.completion_tokens
    return [{"day": day, "kind": kind, "tokens": pair[i]}
            for day, pair in sorted(days.items())
            for i, kind in enumerate(("prompt", "completion"))]


@dataclass(frozen=True)
class OwnerUsage:
    """One user's totals over a period (for the deploy's admins)."""

    owner: str
    name: str  # the login name or email last seen for it; "" for a visitor without a login
    requests: int
    errors: int
    tokens: int
    cost_usd: float
    cost_cny: float

    def cost(self, currency: str, usd_cny: float) -> float:
        """Both currencies' amounts in one."""
        return (convert(self.cost_usd, "USD", currency, usd_cny)
                + convert(self.cost_cny, "CNY", currency, usd_cny))


@dataclass(frozen=True)
class Standing:
    """Where one user stands against the hosted limits now."""

    owner: str
    name: str
    requests_last_minute: int
    tokens_today: int  # on the deployer's key, this UTC day
    open_streams: int


def standing_row(standing: Standing, limits: Limits) -> dict:
    """A user's use beside each per-request limit, and the share of the closest one."""
    pairs = ((standing.requests_last_minute, limits.requests_per_minute),
             (standing.tokens_today, limits.tokens_per_day),
             (standing.open_streams, limits.concurrent_streams))
    shares = [used / limit for used, limit in pairs if limit]
    return {"user": standing.name or standing.owner,
            "requests_last_minute": standing.requests_last_minute,
            "requests_per_minute": limits.requests_per_minute,
            "tokens_today": standing.tokens_today, "tokens_per_day": limits.tokens_per_day,
            "open_streams": standing.open_streams,
            "concurrent_streams": limits.concurrent_streams,
            "closest_limit": max(shares) if shares else None}
