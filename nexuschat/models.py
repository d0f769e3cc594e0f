"""Model ids and what each can do (vision, tools), from name patterns the user may override."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Capabilities:
    """What a model accepts: images in content parts, tool definitions, and `n` > 1."""

    vision: bool = False
    tools: bool = False
    # False where the server quietly returns one choice however many `n` asks for.
    multiple_choices: bool = True


# Shown when GET /models fails; the API contract names the Claude and Qwen(-VL) series.
CURATED_MODELS: tuple[str, ...] = (
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "qwen3.5-plus",
    "qwen-vl-max",
    "qwen3-vl-plus",
)

# First match wins. The contract: vision = Claude and Qwen-VL; tools = Claude and Qwen.
_PATTERNS: tuple[tuple[re.Pattern[str], Capabilities], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), caps)
    for pattern, caps in (
        # The bundled local model (nexuschat.local): text only; llama-cpp-python's server
        # ignores `n` and sends a single choice.
        (r"smollm", Capabilities(vision=False, tools=False, multiple_choices=False)),
        (r"claude", Capabilities(vision=True, tools=True)),
        (r"qwen[\w.\-]*-?vl|qvq|qwen[\w.\-]*omni", Capabilities(vision=True, tools=True)),
        (r"qwen", Capabilities(vision=False, tools=True)),
        (r"gpt-4o|gpt-4\.1|gpt-5|gemini|pixtral|llava", Capabilities(vision=True, tools=True)),
    )
)


Overrides = Mapping[str, Mapping[str, bool]]


def capabilities(model: str, overrides: Overrides | None = None) -> Capabilities:
    """The flags for `model`: its pattern's, then any user override per flag."""
    caps = next((c for pattern, c in _PATTERNS if pattern.search(model)), Capabilities())
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
