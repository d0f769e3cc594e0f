"""Tools users define in Settings: definitions checked with the jsonschema package."""

from __future__ import annotations

import json

import pytest

from nexuschat.user_tools import UserTool, argument_problems, check_definition, check_schema

WEATHER = json.dumps({"type": "object", "properties": {
    "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"]})


def codes(problems) -> list[str]:
    return [p.code for p in problems]


def test_a_good_definition_becomes_a_tool():
    tool, problems = check_definition(" weather ", "The forecast", WEATHER)
    assert problems == [] and tool == UserTool("weather", "The forecast", json.loads(WEATHER))
    offered = tool.to_tool()
    assert offered.source == "user" and offered.run is None
    assert offered.to_request()["function"]["parameters"]["required"] == ["city"]


def test_no_parameters_is_an_empty_object():
    tool, _ = check_definition("now", "", "  ")
    assert tool.parameters == {"type": "object", "properties": {}}


@pytest.mark.parametrize("name, schema, code", [
    ("bad name!", WEATHER, "tools.error.name"),
    ("x" * 65, WEATHER, "tools.error.name"),
    ("weather", "{not json", "tools.error.schema_json"),
    ("weather", '["a list"]', "tools.error.schema_object"),
    ("weather", '{"type": "string"}', "tools.error.schema_object"),
    ("weather", '{"type": "object", "properties": {"a": {"type": "strin"}}}',
     "tools.error.schema_invalid"),
    ("weather", '{"type": "object", "required": "city"}', "tools.error.schema_invalid"),
    ("weather", '{"type": "object", "properties": {"a": {"minimum": "one"}}}',
     "tools.error.schema_invalid"),
])
def test_bad_definitions_say_what_is_wrong(name, schema, code):
    tool, problems = check_definition(name, "d", schema)
    assert tool is None and code in codes(problems)


def test_a_name_already_taken_is_refused():
    _, problems = check_definition("calculate", "", "", taken=frozenset({"calculate"}))
    assert codes(problems) == ["tools.error.name_taken"]


def test_where_a_schema_is_wrong_is_named():
    _, problems = check_schema('{"type": "object", "properties": {"a": {"type": "strin"}}}')
    assert problems[0].params["where"] == "properties/a/type"


def test_the_models_arguments_are_checked_against_the_users_schema():
    tool, _ = check_definition("weather", "", WEATHER)
    assert argument_problems(tool, {"city": "Oslo", "days": 2}) == []
    said = argument_problems(tool, {"days": 0})
    assert "arguments: 'city' is a required property" in said
    assert any(s.startswith("days: 0 is less than the minimum of 1") for s in said)
