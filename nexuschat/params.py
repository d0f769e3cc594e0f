"""Generation parameters, validated to the ranges of the API contract; only set fields are sent."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from nexuschat.errors import Notice
from nexuschat.models import Thinking

MAX_STOP_SEQUENCES = 4
SEED_RANGE = (-(2**63), 2**63 - 1)
MAX_USER_CHARS = 256
MAX_CHOICES = 4  # `n`: the API contract's replies per request, 1 to 4


@dataclass(frozen=True)
class GenerationParams:
    """Optional request fields; None means "not set, let the server decide"."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    user: str | None = None
    # Thinking on (True) or off (False); None: the model's default, nothing sent. Sent only to
    # models whose catalog entry takes a switch (`thinking_request`), never by `to_request`.
    thinking: bool | None = None
    thinking_budget: int | None = None  # tokens; for models that take a budget, when on
    n: int | None = None  # candidates per request (1 to MAX_CHOICES); None: one, nothing sent
    # Whether the model must, may or may not call tools: None (auto, nothing sent), "none",
    # "required", or "function" (the one named `tool_function`). Sent only with tools
    # (nexuschat.tool_loop.tools_request), never by `to_request`.
    tool_choice: str | None = None
    tool_function: str | None = None


# Request fields that only some models take: sent by `thinking_request`, not `to_request`.
THINKING_FIELDS = ("thinking", "thinking_budget")
# Request fields that go with the tools offered (nexuschat.tool_loop), not `to_request`.
TOOL_FIELDS = ("tool_choice", "tool_function")
TOOL_CHOICES = ("auto", "none", "required", "function")  # "auto" is stored as None


@dataclass(frozen=True)
class ParamError(Notice):
    """One invalid field; `code` is an i18n key and `params` fill it."""

    field: str
    code: str
    params: dict = field(default_factory=dict)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate(p: GenerationParams) -> list[ParamError]:
    """Every problem with `p`, in field order; an empty list means it can be sent."""
    errors: list[ParamError] = []

    def bad(name: str, code: str, **params: object) -> None:
        errors.append(ParamError(name, code, {"field": name, **params}))

    if p.temperature is not None and not (_number(p.temperature) and 0 <= p.temperature < 2):
        bad("temperature", "params.error.range_half_open", low=0, high=2)
    if p.top_p is not None and not (_number(p.top_p) and 0 < p.top_p <= 1):
        bad("top_p", "params.error.range_open_closed", low=0, high=1)
    if p.temperature is not None and p.top_p is not None:
        bad("top_p", "params.error.temperature_or_top_p")
    if p.max_tokens is not None and not (
        isinstance(p.max_tokens, int) and not isinstance(p.max_tokens, bool) and p.max_tokens >= 1
    ):
        bad("max_tokens", "params.error.positive_int")
    if len(p.stop) > MAX_STOP_SEQUENCES:
        bad("stop", "params.error.too_many_stops", count=MAX_STOP_SEQUENCES)
    if any(not s for s in p.stop):
        bad("stop", "params.error.empty_stop")
    for name in ("presence_penalty", "frequency_penalty"):
        value = getattr(p, name)
        if value is not None and not (_number(value) and -2 <= value <= 2):
            bad(name, "params.error.range_closed", low=-2, high=2)
    if p.seed is not None and not (
        isinstance(p.seed, int)
        and not isinstance(p.seed, bool)
        and SEED_RANGE[0] <= p.seed <= SEED_RANGE[1]
    ):
        bad("seed", "params.error.seed")
    if p.user is not None and len(p.user) > MAX_USER_CHARS:
        bad("user", "params.error.user_too_long", count=MAX_USER_CHARS)
    if p.thinking_budget is not None and not (
        isinstance(p.thinking_budget, int) and not isinstance(p.thinking_budget, bool)
        and p.thinking_budget >= 1
    ):
        bad("thinking_budget", "params.error.positive_int")
    if p.n is not None and not (
        isinstance(p.n, int) and not isinstance(p.n, bool) and 1 <= p.n <= MAX_CHOICES
    ):
        bad("n", "params.error.int_range", low=1, high=MAX_CHOICES)
    if p.tool_choice is not None and p.tool_choice not in TOOL_CHOICES:
        bad("tool_choice", "params.error.tool_choice")
    if p.tool_choice == "function" and not p.tool_function:
        bad("tool_function", "params.error.tool_function")
    return errors


def to_request(p: GenerationParams) -> dict:
    """The request fields the user set, exactly as the API expects them."""
    body: dict = {}
    for f in fields(p):
        if f.name in THINKING_FIELDS or f.name in TOOL_FIELDS:
            continue
        value = getattr(p, f.name)
        if value is None or value == () or value == "":
            continue
        body[f.name] = list(value) if f.name == "stop" else value
    return body


def thinking_request(p: GenerationParams, control: Thinking | None) -> dict:
    """The body fields that switch thinking, for a model whose catalog entry says how
    (`control`); nothing when the user left it at the model's default, or the model takes no
    switch. A budget goes only with thinking on, to a model that takes one."""
    if control is None or p.thinking is None:
        return {}
    fields_: dict = {"enable_thinking": bool(p.thinking)}
    if p.thinking and control == "budget" and p.thinking_budget is not None:
        fields_["thinking_budget"] = p.thinking_budget
    return fields_


def parse_stop(text: str) -> tuple[str, ...]:
    """Stop sequences from a text area, one per line; `\\n` and `\\t` stand for newline and tab."""
    lines = [line for line in text.splitlines() if line.strip()]
    return tuple(line.replace("\\n", "\n").replace("\\t", "\t") for line in lines)


def stop_text(stop: tuple[str, ...]) -> str:
    """The inverse of `parse_stop`: one sequence a line, newline and tab written `\\n`, `\\t`."""
    return "\n".join(seq.replace("\n", "\\n").replace("\t", "\\t") for seq in stop)


def as_dict(p: GenerationParams) -> dict:
    """A plain dict for session state or storage."""
    return asdict(p)


def from_dict(data: dict) -> GenerationParams:
    """The inverse of as_dict; unknown keys are ignored."""
    known = {f.name for f in fields(GenerationParams)}
    clean = {k: v for k, v in data.items() if k in known}
    if "stop" in clean:
        clean["stop"] = tuple(clean["stop"] or ())
    return GenerationParams(**clean)
