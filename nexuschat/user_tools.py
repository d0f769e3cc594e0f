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

from nexuschat.errors import Problem
from nexuschat.tools import SOURCE_USER, Tool

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_DESCRIPTION_CHARS = 1024
MAX_SCHEMA_CHARS = 20_000
EMPTY_SCHEMA = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class UserTool:
    """A tool as the user defined it: name, description and the JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict

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
        return None, [Problem("tools.error.schema_json", line=exc.lineno,
                                                          detail=exc.msg)]
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None, [Problem("tools.error.schema_object")]
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(top)"
        return None, [Problem("tools.error.schema_invalid", where=where,
                                                             detail=exc.message[:300])]
    return schema, []


def argument_problems(tool: UserTool, arguments: dict) -> list[str]:
    """What is wrong with the model's arguments for this tool (plain English for the model)."""
    validator = Draft202012Validator(tool.parameters)
    return [f"{'/'.join(map(str, error.absolute_path)) or 'arguments'}: {error.message}"
            for error in sorted(validator.iter_errors(arguments), key=lambda e: e.path)]
