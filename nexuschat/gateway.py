"""Replies as OpenAI-compatible gateways really send them, read into plain values (pure).

Servers agree on the envelope and little else. Every function here takes parsed JSON of any
shape (a shape no server documented included) and returns plain values; none raises.

Where each shape comes from:
- reasoning as `reasoning_content` (DeepSeek's API, DashScope's compatible mode for Qwen3,
  llama.cpp's server, LiteLLM), as `reasoning` (OpenRouter, Ollama's /v1, vLLM since it
  renamed the field, which some versions send beside the old one), as OpenRouter's
  `reasoning_details` list, as LiteLLM's `thinking_blocks`, or as content parts: Mistral's
  reasoning models send `{"type": "thinking", "thinking": [{"type": "text", ...}]}`, Anthropic
  style blocks carry `thinking` as a string, Responses-style ones `{"type": "reasoning",
  "summary" / "content": [...]}`. One delta may carry the same reasoning under two names, so
  the first field present wins, in that order.
- content as a list of parts (Mistral): text parts are joined, the rest noted by type.
- `refusal` (OpenAI's structured refusals) on the delta or message, or as a refusal part.
- finish reasons from non-OpenAI backends (Anthropic's stop reasons, Gemini's upper-case
  ones, Mistral's `model_length`, llama.cpp-style `eos`), mapped to OpenAI's words.
- error bodies: `{"error": {...}}`, `{"error": "text"}`, `{"message": ...}` (a string or an
  object), FastAPI's `{"detail": [...]}`, Gemini's list of errors, plain text, HTML pages.
- cached prompt tokens as OpenAI's `prompt_tokens_details.cached_tokens` (DashScope, vLLM,
  OpenRouter too), DeepSeek's `prompt_cache_hit_tokens`, or Anthropic-style
  `cache_read_input_tokens` (LiteLLM, gateways in front of Claude).
- a remaining balance, where a gateway reports one: a header of `BALANCE_HEADERS`
  (`x-balance: 12.34`, `x-balance: USD 12.34`, with `x-balance-currency`), or a `balance` field
  in the body or its usage (a number, or an object with an amount and a currency).
- running out of money: HTTP 402 (DeepSeek's "Insufficient Balance"), or an error whose code or
  type is one of `NO_BALANCE_CODES` (OpenAI's `insufficient_quota`, sent with a 429;
  DashScope's `Arrearage`; one-api's `insufficient_user_quota`), or whose message says so.
"""

from __future__ import annotations

import html
import json
import math
import re

MESSAGE_CHARS = 300  # an error message shown to the user, at most
_DEPTH = 6  # nested parts or error objects followed this deep, no deeper
_MAX_INT = 2**31 - 1  # token counts beyond this are not counts (and would not fit a column)
_TYPE_CHARS = 40

# ---------------------------------------------------------------- deltas and messages

# String fields that hold reasoning, in the order they are trusted (first non-empty wins).
_REASONING_FIELDS = ("reasoning_content", "reasoning")
# Lists of reasoning blocks: OpenRouter's `reasoning_details`, LiteLLM's `thinking_blocks`.
_REASONING_LISTS = ("reasoning_details", "thinking_blocks")
_TEXT_PARTS = frozenset({"text", "output_text"})
_REASONING_PARTS = frozenset({"thinking", "reasoning", "reasoning_text", "summary_text",
                              "reasoning.text", "reasoning.summary"})
# Known, and with nothing to show: encrypted or redacted reasoning.
_SILENT_PARTS = frozenset({"redacted_thinking", "reasoning.encrypted"})


def read_delta(delta: dict) -> tuple[str, str, str, tuple[str, ...]]:
    """(answer text, reasoning, refusal, skipped part types) of one delta or message."""
    content = delta.get("content")
    text, reasoning, refusal, skipped = "", "", "", ()
    if isinstance(content, str):
        text = content
    elif isinstance(content, list | dict):
        text, reasoning, refusal, skipped = _read_parts(
            content if isinstance(content, list) else [content], 0)
    for name in _REASONING_FIELDS:
        value = delta.get(name)
        if isinstance(value, str) and value:
            reasoning = value + reasoning
            break
    else:
        for name in _REASONING_LISTS:
            value = delta.get(name)
            if isinstance(value, list) and (found := _all_text(value, 0)):
                reasoning = found + reasoning
                break
    value = delta.get("refusal")
    if isinstance(value, str) and value:
        refusal = value + refusal
    return text, reasoning, refusal, skipped


def _read_parts(parts: list, depth: int) -> tuple[str, str, str, tuple[str, ...]]:
    texts: list[str] = []
    thoughts: list[str] = []
    refusals: list[str] = []
    skipped: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind is None and isinstance(part.get("text"), str):
            kind = "text"
        if not isinstance(kind, str):
            skipped.append("?")
        elif kind in _TEXT_PARTS:
            if isinstance(value := part.get("text"), str):
                texts.append(value)
        elif kind in _REASONING_PARTS:
            thoughts.append(_all_text(part, depth + 1))
        elif kind == "refusal":
            if isinstance(value := part.get("refusal"), str):
                refusals.append(value)
        elif kind not in _SILENT_PARTS:
            skipped.append(kind[:_TYPE_CHARS] or "?")
    return "".join(texts), "".join(thoughts), "".join(refusals), tuple(skipped)


def _all_text(value: object, depth: int) -> str:
    """Every piece of text in a reasoning block, whatever its nesting (bounded)."""
    if isinstance(value, str):
        return value
    if depth > _DEPTH:
        return ""
    if isinstance(value, list):
        return "".join(_all_text(item, depth + 1) for item in value)
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str) and kind in _SILENT_PARTS:
            return ""
        for key in ("thinking", "text", "reasoning", "summary", "content"):
            if key in value and (found := _all_text(value[key], depth + 1)):
                return found
    return ""


def count(value: object) -> int | None:
    """A token count, or None for anything that is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= _MAX_INT else None


def read_usage(usage: object) -> dict | None:
    """Prompt, completion, total and reasoning tokens from a usage object (None: not one).

    Reasoning tokens are OpenAI's `completion_tokens_details.reasoning_tokens` (DeepSeek,
    DashScope and OpenRouter use the same place), or a flat `reasoning_tokens`.
    """
    if not isinstance(usage, dict):
        return None
    details = usage.get("completion_tokens_details")
    reasoning = count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    return {
        "prompt_tokens": count(usage.get("prompt_tokens")),
        "completion_tokens": count(usage.get("completion_tokens")),
        "total_tokens": count(usage.get("total_tokens")),
        "reasoning_tokens": reasoning if reasoning is not None
        else count(usage.get("reasoning_tokens")),
        "cached_tokens": _cached_tokens(usage),
    }


def _cached_tokens(usage: dict) -> int | None:
    """Prompt tokens read from the provider's cache, wherever the server puts them."""
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and (found := count(details.get("cached_tokens"))) is not None:
        return found
    for name in ("prompt_cache_hit_tokens", "cache_read_input_tokens", "cached_tokens"):
        if (found := count(usage.get(name))) is not None:
            return found
    return None


# ---------------------------------------------------------------- balances

# Headers a gateway may report the account's remaining balance in, first found wins (any case).
BALANCE_HEADERS = ("x-balance", "x-account-balance", "x-remaining-balance",
                   "x-credit-balance", "x-credits-remaining", "x-ratelimit-remaining-balance")
BALANCE_CURRENCY_HEADER = "x-balance-currency"
_MONEY = re.compile(r"^\s*(?P<before>[A-Za-z]{3}|[$¥￥])?\s*(?P<amount>-?\d[\d,]*(?:\.\d+)?)"
                    r"\s*(?P<after>[A-Za-z]{3})?\s*$")
_SYMBOLS = {"$": "USD", "¥": "CNY", "￥": "CNY", "RMB": "CNY"}


def read_balance(headers: object = None, body: object = None) -> dict | None:
    """The remaining balance a response reports, as {"amount", "currency" (may be "")}, from
    its headers (a mapping) or its body (parsed JSON); None when it reports none."""
    if hasattr(headers, "items"):
        headers = {str(k).lower(): v for k, v in headers.items()}
        for name in BALANCE_HEADERS:
            value = headers.get(name)
            if isinstance(value, str) and (found := _money(value)):
                currency = headers.get(BALANCE_CURRENCY_HEADER)
                if not found["currency"] and isinstance(currency, str):
                    found["currency"] = _currency(currency)
                return found
    if isinstance(body, dict):
        for holder in (body, body.get("usage")):
            if (isinstance(holder, dict) and "balance" in holder
                    and (found := _balance_value(holder["balance"]))):
                return found
    return None


def _balance_value(value: object) -> dict | None:
    if isinstance(value, str):
        return _money(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return {"amount": float(value), "currency": ""}
    if isinstance(value, dict):
        for key in ("amount", "remaining", "total", "available", "balance"):
            found = _balance_value(value.get(key)) if key in value else None
            if found:
                if not found["currency"] and isinstance(value.get("currency"), str):
                    found["currency"] = _currency(value["currency"])
                return found
    return None


def _money(text: str) -> dict | None:
    found = _MONEY.match(text[:64])
    if not found:
        return None
    try:
        amount = float(found["amount"].replace(",", ""))
    except ValueError:
        return None
    unit = found["before"] or found["after"] or ""
    return {"amount": amount, "currency": _currency(unit)} if math.isfinite(amount) else None


def _currency(unit: str) -> str:
    unit = unit.strip()
    upper = unit.upper()
    return _SYMBOLS.get(unit) or _SYMBOLS.get(upper) or (upper if re.fullmatch(r"[A-Z]{3}", upper)
                                                        else "")


# Error codes or types that mean the account has no money (or quota) left.
NO_BALANCE_CODES = frozenset({"insufficient_quota", "insufficient_balance",
                              "insufficient_user_quota", "arrearage", "balance_not_enough",
                              "payment_required", "billing_hard_limit_reached",
                              "credit_balance_too_low"})
_NO_BALANCE_WORDS = re.compile(r"insufficient[ _](balance|quota|credit|funds)|balance is "
                               r"(not enough|insufficient)|out of credits|余额不足|欠费", re.I)


def is_out_of_balance(status: int | None, body: object, message: str = "") -> bool:
    """Whether a failure means the account ran out of balance or quota: HTTP 402, a code or
    type that says so (at the top of the body or under `error`), or a message that does."""
    if status == 402:
        return True
    for holder in (body, body.get("error") if isinstance(body, dict) else None):
        if isinstance(holder, dict):
            for key in ("code", "type"):
                value = holder.get(key)
                if isinstance(value, str) and value.strip().lower() in NO_BALANCE_CODES:
                    return True
    return bool(message and _NO_BALANCE_WORDS.search(message))


# ---------------------------------------------------------------- finish reasons

_FINISH = {
    **dict.fromkeys(("stop", "end_turn", "stop_sequence", "eos", "eos_token", "pause_turn",
                     "complete", "completed", "finished"), "stop"),
    **dict.fromkeys(("length", "max_tokens", "model_length", "max_output_tokens",
                     "token_limit", "max_length"), "length"),
    **dict.fromkeys(("tool_calls", "tool_use", "function_call", "tool_call"), "tool_calls"),
    **dict.fromkeys(("content_filter", "safety", "recitation", "blocklist", "refusal",
                     "prohibited_content", "spii", "image_safety"), "content_filter"),
}
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")  # what normalizing gives


def normalize_finish_reason(raw: str | None) -> str | None:
    """OpenAI's word for why a reply ended (`max_tokens` -> `length`, `end_turn` -> `stop`,
    `tool_use` -> `tool_calls`, ...); an unknown reason is kept as it came."""
    if not isinstance(raw, str) or not raw:
        return None
    return _FINISH.get(raw.strip().lower(), raw)


# ---------------------------------------------------------------- error bodies

_WS = re.compile(r"\s+")
_HTML_HINT = re.compile(r"<\s*(!doctype|html|head|body|title|h[1-6]|center|div|p)\b", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]\s*>", re.I | re.S)
_INVISIBLE = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_HTML_SCAN_CHARS = 65_536  # a proxy's page is read this far, no further
_MESSAGE_KEYS = ("error", "message", "detail", "msg", "error_message", "errormessage",
                 "description", "title", "reason", "errors")
_LAST_RESORT_KEYS = ("code", "status", "type")


def error_message(body: object, *, limit: int | None = MESSAGE_CHARS) -> str:
    """A short readable message from an error body: parsed JSON of any shape, or its text
    (HTML pages give their title or first heading); "" when it says nothing."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    found = text_message(body) if isinstance(body, str) else _json_message(body, 0)
    return _bounded(found, limit)


def text_message(text: str, content_type: str = "") -> str:
    """The message of an error body as it came over the wire (JSON, HTML or plain text)."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[", '"'):
        try:
            return _json_message(json.loads(stripped), 0)
        except (ValueError, RecursionError):
            pass
    if "html" in content_type.lower() or _HTML_HINT.search(stripped[:2048]):
        return html_message(stripped)
    return _WS.sub(" ", stripped)


def html_message(page: str) -> str:
    """An HTML page's title, else its first heading, else its text: tags and entities gone,
    whitespace collapsed (a proxy's 502 page becomes "502 Bad Gateway")."""
    page = page[:_HTML_SCAN_CHARS]
    for pattern in (_TITLE, _HEADING):
        for found in pattern.finditer(page):
            if text := _inline_text(found[1]):
                return text
    return _inline_text(_INVISIBLE.sub(" ", page))


def _inline_text(fragment: str) -> str:
    return _WS.sub(" ", html.unescape(_TAG.sub(" ", fragment))).strip()


def _json_message(value: object, depth: int) -> str:
    if depth > _DEPTH:
        return ""
    if isinstance(value, str):
        inner = value.strip()
        if inner[:1] in ("{", "[") and depth < _DEPTH:  # a JSON body wrapped in a string
            try:
                return _json_message(json.loads(inner), depth + 1) or _WS.sub(" ", inner)
            except (ValueError, RecursionError):
                pass
        return _WS.sub(" ", inner)
    if isinstance(value, list):
        found = [m for m in (_json_message(item, depth + 1) for item in value[:5]) if m]
        return "; ".join(dict.fromkeys(found))
    if not isinstance(value, dict):
        return ""
    lowered = {str(k).lower(): v for k, v in value.items()}
    if isinstance(lowered.get("msg"), str) and isinstance(lowered.get("loc"), list):
        return _validation_item(lowered["loc"], lowered["msg"])  # FastAPI / pydantic
    for key in _MESSAGE_KEYS:
        if key in lowered and (found := _json_message(lowered[key], depth + 1)):
            return found
    for key in _LAST_RESORT_KEYS:
        if isinstance(lowered.get(key), str) and lowered[key].strip():
            return _WS.sub(" ", lowered[key].strip())
    return ""


def _validation_item(loc: list, msg: str) -> str:
    where = ".".join(str(p) for p in loc if p != "body" and isinstance(p, str | int))
    msg = _WS.sub(" ", msg.strip())
    return f"{where}: {msg}" if where else msg


def _bounded(text: str, limit: int | None) -> str:
    text = text.strip()
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"
