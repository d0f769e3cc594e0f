"""Tools users define in Settings: definitions checked with the jsonschema package."""

from __future__ import annotations

import json

import pytest

from nexuschat.user_tools import (
    BUILTIN_NAMES,
    UserTool,
    argument_problems,
    check_arguments,
    check_definition,
    check_schema,
    schema_text,
)

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


def test_where_a_schema_is_wrong_is_named_as_a_json_path_with_the_clearest_reason():
    _, problems = check_schema('{"type": "object", "properties": {"a": {"type": "strin"}}}')
    assert problems[0].params["where"] == "$.properties.a.type"
    # Not "is not valid under any of the given schemas": the branch that says why.
    assert problems[0].params["detail"].startswith("'strin' is not one of ['array'")


def test_every_mistake_in_a_schema_is_named_in_document_order():
    _, problems = check_schema(json.dumps({"type": "object", "required": "city", "properties": {
        "my city": {"type": ["string", 5]}, "days": {"minimum": "one"}}}))
    assert [p.params["where"] for p in problems] == [
        "$.properties.days.minimum", "$.properties['my city'].type[1]", "$.required"]


def test_a_json_mistake_says_its_line_and_column():
    _, problems = check_schema('{\n  "type": "object",\n  "properties": {},\n}')
    assert codes(problems) == ["tools.error.schema_json"]
    assert (problems[0].params["line"], problems[0].params["column"]) == (4, 1)


def test_a_ref_must_point_inside_the_schema_and_nothing_is_fetched():
    good = {"type": "object", "$defs": {"city": {"type": "string"}},
            "properties": {"a": {"$ref": "#/$defs/city"}}}
    assert check_schema(json.dumps(good)) == (good, [])
    bad = {**good, "properties": {"a": {"$ref": "#/$defs/town"},
                                  "b": {"$ref": "https://example.com/s.json"},
                                  "c": {"const": {"$ref": "just data"}}}}
    _, problems = check_schema(json.dumps(bad))
    assert codes(problems) == ["tools.error.schema_ref"] * 2
    assert [p.params["where"] for p in problems] == ["$.properties.a", "$.properties.b"]


def test_the_built_in_names_are_reserved():
    assert {"calculate", "current_time", "convert_units"} <= BUILTIN_NAMES


def test_sample_arguments_are_checked_with_paths():
    tool, _ = check_definition("weather", "", WEATHER)
    assert check_arguments(tool.parameters, '{"city": "Oslo"}') == []
    said = check_arguments(tool.parameters, '{"days": 0}')
    assert [(p.code, p.params["where"]) for p in said] == [
        ("tools.error.args_invalid", "$"), ("tools.error.args_invalid", "$.days")]
    assert "'city' is a required property" in said[0].params["detail"]
    (syntax,) = check_arguments(tool.parameters, '{"city": "Oslo",\n}')
    assert syntax.code == "tools.error.args_json" and syntax.params["line"] == 2
    assert codes(check_arguments(tool.parameters, "[1]")) == ["tools.error.args_object"]
    assert check_arguments({"type": "object"}, "") == []


def test_the_editor_shows_a_schema_as_it_was_typed():
    tool = UserTool("w", "", {"type": "object", "properties": {"城市": {"type": "string"}}})
    assert schema_text(tool) == json.dumps(tool.parameters, indent=2, ensure_ascii=False)
    assert "城市" in schema_text(tool)


def test_the_models_arguments_are_checked_against_the_users_schema():
    tool, _ = check_definition("weather", "", WEATHER)
    assert argument_problems(tool, {"city": "Oslo", "days": 2}) == []
    said = argument_problems(tool, {"days": 0})
    assert "arguments: 'city' is a required property" in said
    assert any(s.startswith("days: 0 is less than the minimum of 1") for s in said)
