"""What a request costs: prices as plain data, a reply's cost from its real usage, currencies
and the exchange rate between them (pure).

A price is per million tokens in one currency (USD or CNY), with a cached-input price where the
provider has one and input-length tiers where it charges more for longer prompts (Qwen). It
comes from the model catalog (nexuschat/models.toml, NEXUSCHAT_MODELS) and is stored with each
reply (`ReplyMeta.price`), so a later price change does not rewrite history: the stored price
wins, and a reply stored without one is priced at the catalog's price of today. A model with
no price has no cost, never a made-up one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nexuschat.conversation import ReplyMeta

CURRENCIES = ("USD", "CNY")
PER_TOKENS = 1_000_000  # prices are per million tokens
USD_CNY_SETTING = "NEXUSCHAT_USD_CNY"
# Yuan per US dollar when the deployer sets none: the People's Bank of China's central parity
# stayed between 7.0 and 7.2 through 2025 (the rate only shows the other currency on hover
# and converts totals; every cost is kept in the currency its price is in).
DEFAULT_USD_CNY = 7.1


@dataclass(frozen=True)
class PriceTier:
    """The price for prompts of more than `above` input tokens."""

    above: int
    input: float
    output: float
    cached_input: float | None = None


@dataclass(frozen=True)
class Price:
    """What a model costs per million tokens, in `currency`, as published on `as_of`."""

    currency: str
    input: float
    output: float
    cached_input: float | None = None  # input tokens read from the provider's prompt cache
    as_of: str = ""  # ISO date the price was taken
    tiers: tuple[PriceTier, ...] = ()  # longer prompts, ascending by `above`

    def for_prompt(self, prompt_tokens: int) -> tuple[float, float, float | None]:
        """(input, output, cached input) prices for a prompt of this many tokens."""
        rates = (self.input, self.output, self.cached_input)
        for tier in self.tiers:
            if prompt_tokens > tier.above:
                rates = (tier.input, tier.output, tier.cached_input)
        return rates

    def to_dict(self) -> dict:
        """The price as JSON-ready data (what a reply stores)."""
        out: dict = {"currency": self.currency, "input": self.input, "output": self.output}
        if self.cached_input is not None:
            out["cached_input"] = self.cached_input
        if self.as_of:
            out["as_of"] = self.as_of
        if self.tiers:
            out["tiers"] = [{k: v for k, v in vars(t).items() if v is not None}
                            for t in self.tiers]
        return out


def price_from_dict(data: object) -> Price | None:
    """A stored price back as a Price; None for anything that is not one (a reply from
    before prices, or a file from elsewhere)."""
    if not isinstance(data, Mapping) or data.get("currency") not in CURRENCIES:
        return None
    input_, output = _rate(data.get("input")), _rate(data.get("output"))
    if input_ is None or output is None:
        return None
    tiers = []
    for item in data.get("tiers") or ():
        if not isinstance(item, Mapping):
            return None
        above, t_in, t_out = item.get("above"), _rate(item.get("input")), _rate(item.get("output"))
        if not isinstance(above, int) or isinstance(above, bool) or t_in is None or t_out is None:
            return None
        tiers.append(PriceTier(above, t_in, t_out, _rate(item.get("cached_input"))))
    as_of = data.get("as_of")
    return Price(str(data["currency"]), input_, output, _rate(data.get("cached_input")),
                 as_of if isinstance(as_of, str) else "",
                 tuple(sorted(tiers, key=lambda t: t.above)))


def _rate(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


@dataclass(frozen=True)
class Cost:
    """What one reply (or request) cost, in the currency of its price."""

    amount: float
    currency: str
    input: float = 0.0  # of which the prompt (cached part included)
    output: float = 0.0  # of which the reply (reasoning included)
    cached_tokens: int = 0  # prompt tokens priced at the cached-input rate


def request_cost(price: Price, prompt_tokens: int | None, completion_tokens: int | None,
                 cached_tokens: int | None = None) -> Cost | None:
    """The cost of one request's usage at `price`; None without usage (nothing to price).

    Cached prompt tokens (part of `prompt_tokens`) are priced at the cached-input rate where
    the price has one, else as any input token.
    """
    if prompt_tokens is None and completion_tokens is None:
        return None
    prompt, completion = prompt_tokens or 0, completion_tokens or 0
    rate_in, rate_out, rate_cached = price.for_prompt(prompt)
    cached = min(max(cached_tokens or 0, 0), prompt) if rate_cached is not None else 0
    spent_in = ((prompt - cached) * rate_in + cached * (rate_cached or 0.0)) / PER_TOKENS
    spent_out = completion * rate_out / PER_TOKENS
    return Cost(spent_in + spent_out, price.currency, spent_in, spent_out, cached)


def reply_price(meta: ReplyMeta, catalog_price: Price | None) -> Price | None:
    """The price a reply is costed at: the one stored with it, else the catalog's now."""
    return price_from_dict(meta.price) or catalog_price


def reply_cost(meta: ReplyMeta, catalog_price: Price | None = None) -> Cost | None:
    """What a stored reply cost, from its reported usage and its stored price (the catalog's
    price only for replies stored without one); None: no usage, or no price."""
    price = reply_price(meta, catalog_price)
    if price is None or not meta.has_usage:
        return None
    return request_cost(price, meta.prompt_tokens, meta.completion_tokens, meta.cached_tokens)


def exchange_rate(setting: object) -> float:
    """Yuan per US dollar from NEXUSCHAT_USD_CNY; the default for anything not a positive
    number."""
    try:
        rate = float(str(setting).strip().replace(",", "."))
    except (TypeError, ValueError):
        return DEFAULT_USD_CNY
    return rate if math.isfinite(rate) and rate > 0 else DEFAULT_USD_CNY


def convert(amount: float, currency: str, to: str, usd_cny: float) -> float:
    """`amount` of `currency` in `to` at `usd_cny` yuan per dollar."""
    if currency == to:
        return amount
    if currency == "USD" and to == "CNY":
        return amount * usd_cny
    if currency == "CNY" and to == "USD":
        return amount / usd_cny
    raise ValueError(f"unknown currency pair {currency}/{to}")


def other_currency(currency: str) -> str:
    """The currency a cost is also shown in (on hover)."""
    return "CNY" if currency == "USD" else "USD"


@dataclass(frozen=True)
class Spend:
    """Amounts per currency (a conversation that used a dollar model and a yuan one), and how
    many replies had usage but no price."""

    amounts: Mapping[str, float] = field(default_factory=dict)
    unpriced: int = 0

    def total(self, currency: str, usd_cny: float) -> float:
        """Everything in one currency at the exchange rate."""
        return sum(convert(v, c, currency, usd_cny) for c, v in self.amounts.items())


def spend_of(costs: Iterable[Cost | None]) -> Spend:
    """Costs summed per currency; each None counts as unpriced."""
    amounts: dict[str, float] = {}
    unpriced = 0
    for cost in costs:
        if cost is None:
            unpriced += 1
        else:
            amounts[cost.currency] = amounts.get(cost.currency, 0.0) + cost.amount
    return Spend(amounts, unpriced)
