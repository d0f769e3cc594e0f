"""Tools a user defines in Settings (the function-calling playground): checked definitions.

The parameters are a JSON Schema the user writes; it is checked with the `jsonschema` package
against the JSON Schema 2020-12 meta-schema, never by hand. When the model calls such a tool,
the user answers it: the app validates the model's arguments against the schema and shows them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import jsonschema
from jsonschema import Draft202012Validator
from referencing import Registry  # jsonschema's own $ref resolution
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from nexuschat.errors import Problem
from nexuschat.tools import BUILTINS, SOURCE_USER, Tool

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_DESCRIPTION_CHARS = 1024
MAX_SCHEMA_CHARS = 20_000
MAX_ARGUMENTS_CHARS = 20_000
MAX_TOOLS_PER_OWNER = 32  # the store refuses a 33rd (tools.error.limit)
MAX_SHOWN_PROBLEMS = 5  # a schema with many mistakes: the first few, in document order
EMPTY_SCHEMA = {"type": "object", "properties": {}}
_SELF = "urn:nexuschat:tool-parameters"  # the schema's own address, for its "#/..." refs
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})  # values, not schemas
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BUILTIN_NAMES = frozenset(tool.name for tool in BUILTINS)  # a user's tool may not take these


@dataclass(frozen=True)
class UserTool:
    """A tool as the user defined it: name, description and the JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict

    def argument_names(self) -> tuple[str, ...]:
        """The arguments the schema lists (its top-level properties), in the order written."""
        properties = self.parameters.get("properties")
        return tuple(properties) if isinstance(properties, dict) else ()

    def to_tool(self) -> Tool:
        """The tool offered to the model; the user types its result."""
        return Tool(self.name, self.description, self.parameters, source=SOURCE_USER)


def check_definition(name: str, description: str, schema_text: str,
                     taken: frozenset[str] = frozenset()) -> tuple[UserTool | None, list[Problem]]:
    """The tool these fields define, or what is wrong with them (i18n codes with params)."""
    problems: list[Problem] = []
    name = name.strip()
    if not NAME.fullmatch(name):
        problems.append(Problem("tools.error.name", name=name))
    elif name in taken:
        problems.append(Problem("tools.error.name_taken", name=name))
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        problems.append(Problem("tools.error.description_long",
                                limit=MAX_DESCRIPTION_CHARS))
    schema, schema_problems = check_schema(schema_text)
    problems += schema_problems
    if problems or schema is None:
        return None, problems
    return UserTool(name, description, schema), []


def check_schema(text: str) -> tuple[dict | None, list[Problem]]:
    """A parameters schema from its JSON text (empty: no parameters), or why it is not one."""
    if not text.strip():
        return dict(EMPTY_SCHEMA), []
    if len(text) > MAX_SCHEMA_CHARS:
        return None, [Problem("tools.error.schema_long", limit=MAX_SCHEMA_CHARS)]
    try:
        schema = json.loads(text)
    except ValueError as exc:
        return None, [Problem("tools.error.schema_json", line=exc.lineno, column=exc.colno,
                              detail=exc.msg)]
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None, [Problem("tools.error.schema_object")]
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    errors = sorted(meta.iter_errors(schema), key=lambda e: list(map(str, e.absolute_path)))
    problems = [Problem("tools.error.schema_invalid", where=clear.json_path,
                        detail=clear.message[:300])
                for clear in map(_clearest, errors[:MAX_SHOWN_PROBLEMS])]
    problems = problems or _unresolved_refs(schema)
    return (None, problems) if problems else (schema, [])


def check_arguments(schema: dict, text: str) -> list[Problem]:
    """What is wrong with sample arguments (JSON text, as a model would send them) for this
    schema, each with the JSON path where it is; [] when they fit."""
    if len(text) > MAX_ARGUMENTS_CHARS:
        return [Problem("tools.error.args_long", limit=MAX_ARGUMENTS_CHARS)]
    try:
        arguments = json.loads(text or "{}")
    except ValueError as exc:
        return [Problem("tools.error.args_json", line=exc.lineno, column=exc.colno,
                        detail=exc.msg)]
    if not isinstance(arguments, dict):
        return [Problem("tools.error.args_object")]
    try:
        errors = sorted(Draft202012Validator(schema).iter_errors(arguments),
                        key=lambda e: list(map(str, e.absolute_path)))
    except Unresolvable as exc:  # a schema stored before its refs were checked
        return [Problem("tools.error.schema_ref", where="$", ref=str(exc)[:200])]
    return [Problem("tools.error.args_invalid", where=clear.json_path,
                    detail=clear.message[:300])
            for clear in map(_clearest, errors[:MAX_SHOWN_PROBLEMS])]


def _clearest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For "not valid under any of the given schemas", the branch's own complaint that says
    most (the deepest one that is not merely the wrong type); otherwise the error itself."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        telling = [e for e in error.context if e.validator != "type"] or list(error.context)
        error = max(telling, key=lambda e: len(e.absolute_path))  # first of the deepest
    return error


def _unresolved_refs(schema: dict) -> list[Problem]:
    """Each `$ref` that points at nothing inside the schema (no remote schema is ever
    fetched: the model cannot fetch one either)."""
    resolver = Registry().with_resource(_SELF, DRAFT202012.create_resource(schema)) \
        .resolver(base_uri=_SELF)
    problems = []
    for where, ref in _refs(schema, "$"):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            problems.append(Problem("tools.error.schema_ref", where=where, ref=ref[:200]))
    return problems[:MAX_SHOWN_PROBLEMS]


def _refs(node: object, where: str):
    """(JSON path, target) of every `$ref` in a schema, in document order."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield where, node["$ref"]
        for key, value in node.items():
            if key not in _DATA_KEYWORDS:
                yield from _refs(value, where + (f".{key}" if _IDENTIFIER.fullmatch(key)
                                                 else f"[{key!r}]"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{where}[{index}]")


def schema_text(tool: UserTool) -> str:
    """A tool's parameters as the editor shows them: indented JSON, as typed (not ASCII)."""
    return json.dumps(tool.parameters, indent=2, ensure_ascii=False)


def argument_problems(tool: UserTool, arguments: dict) -> list[str]:
    """What is wrong with the model's arguments for this tool (plain English for the model)."""
    validator = Draft202012Validator(tool.parameters)
    return [f"{'/'.join(map(str, error.absolute_path)) or 'arguments'}: {error.message}"
            for error in sorted(validator.iter_errors(arguments), key=lambda e: e.path)]
