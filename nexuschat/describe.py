"""One wording for what the app tells the user about a reply or a notice, for the page and files.

A stored reply keeps its failure as an i18n code and the parameters it had (ReplyMeta
`error_code`, `error_params`), and its end as a finish reason; these functions turn them into
words, and the page (components/messages.py) and every export (nexuschat/exports.py) call them,
so a reply reads the same on screen and in a file. Parameters come from outside (a server's
message, a host, a file name): each text parameter passes through `literal` first. The page
gives `safe_text.plain_text` (shown literally inside our sentence); a file gives nothing and
escapes whole lines its own way.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping

from nexuschat.conversation import ReplyMeta, ToolResult
from nexuschat.cost import Cost, Price, convert, other_currency
from nexuschat.gateway import normalize_finish_reason
from nexuschat.i18n import (
    PLURAL_PARAM,
    format_bytes,
    format_day,
    format_money,
    format_number,
    format_wait,
    has_text,
    t,
    text_placeholders,
)

Literal = Callable[[str], str]
_NOTED_FINISHES = ("length", "content_filter", "tool_calls")  # each has a sentence of its own


def _as_is(text: str) -> str:
    return text


def describe(code: str, params: Mapping[str, object], *, literal: Literal = _as_is,
             now: float | None = None) -> str:
    """The text for `code` filled from `params` as stored (any subset, from any version).

    Placeholders the parameters lack are left empty; a code no catalogue knows (an imported
    file's) is an unexpected error naming it. `now` is the moment a limit's reset is told
    from (default: the clock).
    """
    if not has_text(code):
        code, params = "error.unexpected", {"detail": code}
    shown = {name: _shown(value, literal) for name, value in params.items()}
    counted = params.get(PLURAL_PARAM)
    if code.startswith("limit."):
        shown.update(_limit(params, time.time() if now is None else now))
        if not _is_number(counted):  # a request limit's text counts the limit itself
            counted = params.get("limit")
    elif code == "error.rate_limited":
        wait = params.get("retry_after")
        shown["wait"] = (t("error.rate_limited_wait", seconds=format_number(wait, 0))
                         if _is_number(wait) and wait > 0 else t("error.rate_limited_nowait"))
    values = {name: shown.get(name, "") for name in text_placeholders(code)}
    if PLURAL_PARAM in values:  # picks the form; unknown: the general one, shown as "?"
        values[PLURAL_PARAM] = counted if _is_number(counted) else None
    return t(code, **values)


def error_note(meta: ReplyMeta, *, literal: Literal = _as_is,
               now: float | None = None) -> str | None:
    """What went wrong with a stored reply, or None when nothing did."""
    if not meta.error_code and meta.status != "error":
        return None
    return describe(meta.error_code or "error.unexpected", meta.error_params, literal=literal,
                    now=now)


def finish_note(meta: ReplyMeta, *, literal: Literal = _as_is) -> str | None:
    """Why the reply ended, when that is worth saying (anything but a normal stop), in
    OpenAI's words whatever the server's were (`end_turn` is a normal stop)."""
    if meta.status == "stopped":
        return t("meta.stopped")
    reason = normalize_finish_reason(meta.finish_reason)
    if reason in (None, "stop"):
        return None
    if reason in _NOTED_FINISHES:
        return t(f"meta.finish.{reason}")
    return t("meta.finish.other", reason=literal(reason))


def usage_note(meta: ReplyMeta) -> str:
    """The tokens a reply used as the server reported them, or that it did not; for one of
    `n` candidates, the request's tokens, said to be every candidate's."""
    if not meta.has_usage:
        note = t("meta.usage_unknown")
    else:
        note = t("meta.usage", prompt=_tokens(meta.prompt_tokens),
                 completion=_tokens(meta.completion_tokens), count=meta.total_tokens)
    return t("meta.usage_shared", usage=note, count=meta.candidates) \
        if meta.candidates > 1 else note


def cost_note(meta: ReplyMeta, cost: Cost | None) -> str | None:
    """What a reply cost in its price's currency, or that its price is unknown; None when
    the server reported no usage (the usage note says so)."""
    if not meta.has_usage:
        return None
    if cost is None:
        return t("meta.price_unknown")
    return t("meta.cost", amount=format_money(cost.amount, cost.currency))


def cost_help(cost: Cost, price: Price, usd_cny: float) -> str:
    """The hover text of a cost: the other currency at the exchange rate, the price it was
    costed at and since when, and the prompt tokens read from the cache."""
    other = other_currency(cost.currency)
    lines = [t("meta.cost_other", amount=format_money(convert(cost.amount, cost.currency, other,
                                                              usd_cny), other),
               rate=format_number(usd_cny, 2)),
             t("meta.cost_price", input=format_money(price.input, price.currency),
               output=format_money(price.output, price.currency),
               as_of=_day(price.as_of))]
    if cost.cached_tokens:
        lines.append(t("meta.cost_cached", count=cost.cached_tokens))
    return "\n\n".join(lines)


def money_help(amounts: Mapping[str, float], usd_cny: float) -> str:
    """A total in both currencies at the exchange rate (a conversation's, the Usage page's)."""
    return t("meta.money_both", usd=format_money(_in(amounts, "USD", usd_cny), "USD"),
             cny=format_money(_in(amounts, "CNY", usd_cny), "CNY"),
             rate=format_number(usd_cny, 2))


def money_text(amounts: Mapping[str, float]) -> str:
    """Amounts per currency as they were spent: "$0.0123 + ¥0.0040"."""
    shown = [format_money(v, c) for c, v in sorted(amounts.items(), key=lambda kv: kv[0] != "USD")]
    return " + ".join(shown) if shown else format_money(0.0, "USD")


def _in(amounts: Mapping[str, float], currency: str, usd_cny: float) -> float:
    return sum(convert(v, c, currency, usd_cny) for c, v in amounts.items())


def _day(iso: str) -> str:
    try:
        return format_day(dt.date.fromisoformat(iso))
    except ValueError:
        return iso or "?"


def reasoning_note(meta: ReplyMeta) -> str | None:
    """How many of the reply's tokens were reasoning, when the server said."""
    if meta.reasoning_tokens is None:
        return None
    return t("meta.reasoning_tokens", count=meta.reasoning_tokens)


def tool_source(source: str, *, literal: Literal = _as_is) -> str:
    """Who answers a tool call: the app, the user, an MCP server (named), or not known."""
    if source == "builtin":
        return t("tools.source.builtin")
    if source == "user":
        return t("tools.source.user")
    if not source:
        return t("tools.source.unknown")
    return t("tools.source.mcp", server=literal(source))


def tool_result_note(result: ToolResult, *, literal: Literal = _as_is) -> str:
    """Which call a tool message answers and how it went."""
    name = literal(result.name or "?")
    if result.status == "error":
        return t("tools.result.error", name=name)
    if result.status == "stopped":
        return t("tools.result.stopped", name=name)
    if result.duration_s is not None:
        return t("tools.result.ok_timed", name=name,
                 seconds=format_number(result.duration_s, 2))
    return t("tools.result.ok", name=name)


def tool_limit_note(meta: ReplyMeta) -> str | None:
    """That the tool loop stopped at this reply, its rounds spent."""
    if meta.tool_limit is None:
        return None
    return t("tools.limit_reached", count=meta.tool_limit)


def _limit(params: Mapping[str, object], now: float) -> dict[str, str]:
    """A limit's number, the size a message came to (upload_mb) and when it resets."""
    limit, count, resets_at = params.get("limit"), params.get("count"), params.get("resets_at")
    when = ""
    if _is_number(resets_at) and resets_at:
        wait = resets_at - now
        when = t("limit.resets_in", wait=format_wait(wait)) if wait > 0 else t("limit.reset_now")
    return {"when": when, "limit": format_number(limit) if _is_number(limit) else "?",
            "size": format_bytes(int(count)) if _is_number(count) else "?"}


def _shown(value: object, literal: Literal) -> object:
    if isinstance(value, str):
        return literal(value)
    if _is_number(value):
        return format_number(value)
    return "" if value is None else literal(str(value))


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _tokens(value: int | None) -> str:
    return "?" if value is None else format_number(value)
