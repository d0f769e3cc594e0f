"""Model ids and what each can do (vision, tools, `n`, a thinking switch), from the model catalog
(nexuschat/models.toml) and the user's overrides."""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError, field_validator

Thinking = Literal["switch", "budget"]
CATALOG_FILE = "models.toml"


@dataclass(frozen=True)
class Capabilities:
    """What a model accepts: images in content parts, tool definitions, `n` > 1, and how its
    thinking mode is switched (None: it is not)."""

    vision: bool = False
    tools: bool = False
    # False where the server quietly returns one choice however many `n` asks for.
    multiple_choices: bool = True
    thinking: Thinking | None = None


# ---------------------------------------------------------------- the catalog's schema


class ModelInfo(BaseModel):
    """Flags a catalog entry may set; None: not said here (a default or another entry's)."""

    # Strict per field (StrictBool: "yes" or 1 is not true); tables and arrays as TOML has them.
    model_config = ConfigDict(extra="forbid", frozen=True)

    vision: StrictBool | None = None
    tools: StrictBool | None = None
    multiple_choices: StrictBool | None = None
    thinking: Literal["switch", "budget", "none"] | None = None

    def flags(self) -> dict:
        """The flags this entry sets, as Capabilities fields."""
        said = {k: getattr(self, k) for k in ModelInfo.model_fields if getattr(self, k) is not None}
        if said.get("thinking") == "none":
            said["thinking"] = None
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
    """One model id exactly; `curated` ones are offered when GET /models fails."""

    id: StrictStr
    curated: StrictBool = False


class Catalog(BaseModel):
    """The whole catalog: families in order (first match wins), then exact ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: tuple[Family, ...]
    model: tuple[ModelEntry, ...] = ()


class CatalogError(ValueError):
    """The catalog file is not valid TOML or does not fit the schema."""


def load_catalog(text: str) -> Catalog:
    """Parse and validate a catalog (the TOML text of models.toml)."""
    try:
        return Catalog.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CatalogError(f"{CATALOG_FILE}: {exc}") from None


@dataclass(frozen=True)
class _Rules:
    families: tuple[tuple[re.Pattern[str], dict], ...]
    by_id: Mapping[str, dict]
    curated: tuple[str, ...]


def _rules(catalog: Catalog) -> _Rules:
    return _Rules(
        tuple((re.compile(f.match, re.IGNORECASE), f.flags()) for f in catalog.family),
        {m.id: m.flags() for m in catalog.model},
        tuple(m.id for m in catalog.model if m.curated),
    )


@functools.cache
def _bundled() -> _Rules:
    # Read once per process: immutable data from the package, the same for every user.
    text = resources.files("nexuschat").joinpath(CATALOG_FILE).read_text("utf-8")
    return _rules(load_catalog(text))


# ---------------------------------------------------------------- the public functions

# Shown when GET /models fails: the catalog's curated ids.
CURATED_MODELS: tuple[str, ...] = _bundled().curated

Overrides = Mapping[str, Mapping[str, bool]]


def capabilities(model: str, overrides: Overrides | None = None,
                 catalog: Catalog | None = None) -> Capabilities:
    """The flags for `model`: its family's, its own catalog entry's, then any user override
    per flag (vision, tools)."""
    rules = _bundled() if catalog is None else _rules(catalog)
    said: dict = next((flags for pattern, flags in rules.families if pattern.search(model)), {})
    caps = Capabilities(**{**said, **rules.by_id.get(model, {})})
    override = (overrides or {}).get(model) or {}
    known = {k: bool(v) for k, v in override.items() if k in ("vision", "tools")}
    return replace(caps, **known)


def vision_models(models: Iterable[str], overrides: Overrides | None = None) -> list[str]:
    """The models that can see images, in the given order."""
    return [m for m in models if capabilities(m, overrides).vision]


def merge_model_lists(listed: Iterable[str], *extra: str) -> list[str]:
    """Listed models first, then any extra (e.g. the configured default), without duplicates."""
    seen: dict[str, None] = {}
    for model in (*listed, *extra):
        if model:
            seen.setdefault(model, None)
    return list(seen)
