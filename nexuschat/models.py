"""Model ids and what each can do (vision, tools, `n`, a thinking switch, its context window and
longest reply) and what it costs (its price), from the model catalog (nexuschat/models.toml),
the deployer's additions (NEXUSCHAT_MODELS) and the user's overrides."""

from __future__ import annotations

import functools
import json
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from nexuschat.cost import Price, PriceTier
from nexuschat.errors import Note, Notice

Thinking = Literal["switch", "budget"]
CATALOG_FILE = "models.toml"
DEPLOYER_SETTING = "NEXUSCHAT_MODELS"  # the deployer's catalog: TOML tables in secrets (or text)
MAX_PROBLEMS = 3  # validation problems named in one message
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capabilities:
    """What a model accepts: images in content parts, tool definitions, `n` > 1, how its
    thinking mode is switched (None: it is not), and its limits in tokens (None: unknown)."""

    vision: bool = False
    tools: bool = False
    # False where the server quietly returns one choice however many `n` asks for.
    multiple_choices: bool = True
    thinking: Thinking | None = None
    context_window: int | None = None  # prompt and reply together
    max_output_tokens: int | None = None  # the most one reply may be (max_tokens' ceiling)
    price: Price | None = None  # per million tokens (None: unknown, no cost is shown)


# ---------------------------------------------------------------- the catalog's schema

Tokens = Annotated[StrictInt, Field(gt=0)]
# A price per million tokens: a number (TOML's 3 and 3.0 alike), never negative.
Rate = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)]


class TierInfo(BaseModel):
    """A higher price for prompts of more than `above` input tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    above: Tokens
    input: Rate
    output: Rate
    cached_input: Rate | None = None


class PriceInfo(BaseModel):
    """A model's price per million tokens in USD or CNY, with the date it was taken."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: Literal["USD", "CNY"]
    input: Rate
    output: Rate
    cached_input: Rate | None = None
    # A TOML date (2026-12-01), or its text from secrets passed on as JSON.
    as_of: date
    tiers: tuple[TierInfo, ...] = ()

    @field_validator("tiers")
    @classmethod
    def _ascending(cls, value: tuple[TierInfo, ...]) -> tuple[TierInfo, ...]:
        if [t.above for t in value] != sorted({t.above for t in value}):
            raise ValueError("tiers must go up by `above`, each once")
        return value

    def to_price(self) -> Price:
        """As the plain Price the rest of the app reads."""
        return Price(self.currency, float(self.input), float(self.output),
                     None if self.cached_input is None else float(self.cached_input),
                     self.as_of.isoformat(),
                     tuple(PriceTier(t.above, float(t.input), float(t.output),
                                     None if t.cached_input is None else float(t.cached_input))
                           for t in self.tiers))


class ModelInfo(BaseModel):
    """What a catalog entry may say; None: not said here (a default or another entry's)."""

    # Strict per field (StrictBool: "yes" or 1 is not true); tables and arrays as TOML has them.
    model_config = ConfigDict(extra="forbid", frozen=True)

    vision: StrictBool | None = None
    tools: StrictBool | None = None
    multiple_choices: StrictBool | None = None
    thinking: Literal["switch", "budget", "none"] | None = None
    context_window: Tokens | None = None
    max_output_tokens: Tokens | None = None
    price: PriceInfo | None = None

    def flags(self) -> dict:
        """What this entry says, as Capabilities fields."""
        said = {k: getattr(self, k) for k in ModelInfo.model_fields if getattr(self, k) is not None}
        if said.get("thinking") == "none":
            said["thinking"] = None
        if "price" in said:
            said["price"] = said["price"].to_price()
        return said


class Family(ModelInfo):
    """Models whose id matches `match` (a regular expression, searched, any case)."""

    name: StrictStr
    match: StrictStr

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class ModelEntry(ModelInfo):
    """One model id exactly; `curated` ones are offered when GET /models fails (false: an
    entry of the deployer's takes a bundled id off that list)."""

    id: StrictStr
    curated: StrictBool | None = None


class Catalog(BaseModel):
    """The whole catalog: families in order (first match wins), then exact ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: tuple[Family, ...] = ()
    model: tuple[ModelEntry, ...] = ()


class CatalogError(ValueError):
    """A catalog is not valid TOML or does not fit the schema; the message says where."""

    def __init__(self, message: str, problems: tuple[CatalogProblem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class CatalogProblem(Notice):
    """One thing wrong with a catalog: where (`model[2].context_window`) and what, as a code
    the page words in the user's language."""

    code: str
    params: dict = field(default_factory=dict)


# pydantic's error types, as the words a deployer reads; any other type: its own message.
_PROBLEM_CODES = {
    "extra_forbidden": "catalog.problem.unknown_field",
    "missing": "catalog.problem.missing",
    "bool_type": "catalog.problem.bool",
    "int_type": "catalog.problem.tokens",
    "int_from_float": "catalog.problem.tokens",
    "greater_than": "catalog.problem.tokens",
    "float_type": "catalog.problem.price",
    "greater_than_equal": "catalog.problem.price",
    "finite_number": "catalog.problem.price",
    "date_type": "catalog.problem.date",
    "date_from_datetime_parsing": "catalog.problem.date",
    "date_parsing": "catalog.problem.date",
    "string_type": "catalog.problem.text",
    "literal_error": "catalog.problem.choice",
    "tuple_type": "catalog.problem.tables",
    "model_type": "catalog.problem.table",
}
OTHER_PROBLEM = "catalog.problem.other"
TOML_PROBLEM = "catalog.problem.toml"


def load_catalog(text: str, source: str = CATALOG_FILE) -> Catalog:
    """Parse and validate a catalog (TOML text such as models.toml)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problem = CatalogProblem(TOML_PROBLEM, {"detail": str(exc)})
        raise CatalogError(f"{source}: {exc}", (problem,)) from None
    return catalog_from_data(data, source)


def catalog_from_data(data: object, source: str = CATALOG_FILE) -> Catalog:
    """Validate a catalog given as tables (what secrets.toml holds); CatalogError names the
    first problems by where they are (`model[2].context_window: ...`)."""
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()[:MAX_PROBLEMS]
        problems = tuple(_problem(e) for e in errors)
        lines = [f"{_where(e['loc'])}: {e['msg']}" for e in errors]
        more = exc.error_count() - len(lines)
        if more > 0:
            problems += (CatalogProblem("catalog.problem.more", {"count": more}),)
        tail = f" (+{more} more)" if more > 0 else ""
        raise CatalogError(f"{source}: " + "; ".join(lines) + tail, problems) from None


def _problem(error) -> CatalogProblem:
    where = _where(error["loc"])
    code = _PROBLEM_CODES.get(error["type"])
    if code == "catalog.problem.choice":
        return CatalogProblem(code, {"where": where, "choices": str(error["ctx"]["expected"])})
    if code is None:
        detail = str(error["msg"]).removeprefix("Value error, ")
        return CatalogProblem(OTHER_PROBLEM, {"where": where, "detail": detail})
    return CatalogProblem(code, {"where": where})


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the whole catalog)"


def extended(base: Catalog, extra: Catalog) -> Catalog:
    """`base` with a deployer's `extra`: its families are tried first, and its exact ids say
    what they set over the bundled entry of the same id (the rest of that entry stands)."""
    merged = {m.id: m for m in base.model}
    for entry in extra.model:
        if entry.id in merged:
            # The validated values themselves (a price stays a PriceInfo, not its dump).
            said = {k: getattr(entry, k) for k in type(entry).model_fields
                    if getattr(entry, k) is not None}
            merged[entry.id] = merged[entry.id].model_copy(update=said)
        else:
            merged[entry.id] = entry
    return Catalog(family=(*extra.family, *base.family), model=tuple(merged.values()))


@dataclass(frozen=True)
class _Rules:
    families: tuple[tuple[re.Pattern[str], dict], ...]
    by_id: Mapping[str, dict]
    curated: tuple[str, ...]


def _compile(catalog: Catalog) -> _Rules:
    return _Rules(
        tuple((re.compile(f.match, re.IGNORECASE), f.flags()) for f in catalog.family),
        {m.id: m.flags() for m in catalog.model},
        tuple(m.id for m in catalog.model if m.curated),
    )


@functools.lru_cache(maxsize=16)
def _rules(catalog: Catalog) -> _Rules:
    # A bare Catalog (tests, tools): compiled once per distinct catalog.
    return _compile(catalog)


@dataclass(frozen=True, eq=False)
class ModelCatalog:
    """The catalog in use, compiled once: the bundled one extended by NEXUSCHAT_MODELS, or
    the bundled one alone and why that setting was not used (`problems`, for the deployer)."""

    catalog: Catalog
    problems: tuple[CatalogProblem, ...] = ()
    # Compared and hashed by identity (eq=False): hashing a whole catalog on every lookup
    # would cost more than the lookup.
    rules: _Rules = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", _compile(self.catalog))

    @property
    def curated(self) -> tuple[str, ...]:
        """The ids offered when GET /models fails."""
        return self.rules.curated


@functools.cache
def bundled_catalog() -> Catalog:
    """The catalog shipped with the app (read once per process: the same for every user)."""
    text = resources.files("nexuschat").joinpath(CATALOG_FILE).read_text("utf-8")
    return load_catalog(text)


@functools.cache
def bundled() -> ModelCatalog:
    """The bundled catalog, compiled (once per process)."""
    return ModelCatalog(bundled_catalog())


# ---------------------------------------------------------------- the deployer's catalog


def deployer_catalog(setting: object) -> ModelCatalog:
    """The catalog for a deploy whose NEXUSCHAT_MODELS is `setting`: tables (a mapping, as
    secrets.toml gives them), TOML text (an environment variable), or nothing."""
    if setting is None or (isinstance(setting, str) and not setting.strip()):
        return bundled()
    if isinstance(setting, str):
        return _deployer(setting, True)
    try:
        canonical = json.dumps(plain_tables(setting), sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:  # a mapping with keys JSON cannot hold
        return ModelCatalog(bundled_catalog(),
                            (CatalogProblem(OTHER_PROBLEM, {"where": DEPLOYER_SETTING,
                                                            "detail": str(exc)}),))
    return _deployer(canonical, False)


@functools.lru_cache(maxsize=8)
def _deployer(canonical: str, is_text: bool) -> ModelCatalog:
    # Keyed by the setting's text: parsed, validated and compiled once per distinct setting,
    # and a bad one logged once (for the deployer reading the server's log).
    try:
        extra = (load_catalog(canonical, DEPLOYER_SETTING) if is_text
                 else catalog_from_data(json.loads(canonical), DEPLOYER_SETTING))
    except CatalogError as exc:
        _log.warning("%s is not valid, the bundled catalog is used: %s", DEPLOYER_SETTING, exc)
        return ModelCatalog(bundled_catalog(), exc.problems)
    return ModelCatalog(extended(bundled_catalog(), extra))


def plain_tables(value: object) -> object:
    """Mappings and sequences (Streamlit's secrets sections) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain_tables(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_tables(v) for v in value]
    return value


# ---------------------------------------------------------------- the public functions

# Shown when GET /models fails: the bundled catalog's curated ids.
CURATED_MODELS: tuple[str, ...] = bundled().curated

Overrides = Mapping[str, Mapping[str, bool]]


def _rules_of(catalog: Catalog | ModelCatalog | None) -> _Rules:
    if catalog is None:
        return bundled().rules
    return catalog.rules if isinstance(catalog, ModelCatalog) else _rules(catalog)


def capabilities(model: str, overrides: Overrides | None = None,
                 catalog: Catalog | ModelCatalog | None = None) -> Capabilities:
    """What `model` can do: its family's flags, its own catalog entry's, then any user
    override per flag (vision, tools). No catalog: the bundled one."""
    rules = _rules_of(catalog)
    said: dict = next((flags for pattern, flags in rules.families if pattern.search(model)), {})
    caps = Capabilities(**{**said, **rules.by_id.get(model, {})})
    override = (overrides or {}).get(model) or {}
    known = {k: bool(v) for k, v in override.items() if k in ("vision", "tools")}
    return replace(caps, **known)


def vision_models(models: Iterable[str], overrides: Overrides | None = None,
                  catalog: Catalog | ModelCatalog | None = None) -> list[str]:
    """The models that can see images, in the given order."""
    return [m for m in models if capabilities(m, overrides, catalog).vision]


def merge_model_lists(listed: Iterable[str], *extra: str) -> list[str]:
    """Listed models first, then any extra (e.g. the configured default), without duplicates."""
    seen: dict[str, None] = {}
    for model in (*listed, *extra):
        if model:
            seen.setdefault(model, None)
    return list(seen)


def request_notes(model: str, caps: Capabilities, *, images: bool = False, tools: bool = False,
                  choices: int = 1, max_tokens: int | None = None) -> tuple[Note, ...]:
    """What a request would meet in this model, said before it is sent: images it cannot see,
    tools it cannot call, `n` > 1 it answers once, a max_tokens above its longest reply."""
    notes = []
    if images and not caps.vision:
        notes.append(Note("chat.images_not_sent", {"model": model}))
    if tools and not caps.tools:
        notes.append(Note("capability.no_tools", {"model": model}))
    if choices > 1 and not caps.multiple_choices:
        notes.append(Note("capability.single_choice", {"model": model, "count": choices}))
    longest = caps.max_output_tokens
    if max_tokens is not None and longest is not None and max_tokens > longest:
        notes.append(Note("capability.max_tokens_capped",
                          {"model": model, "asked": max_tokens, "count": longest}))
    return tuple(notes)
