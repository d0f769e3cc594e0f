"""Built-in tools: schemas derived from typed functions, arguments validated the same way, and
a calculator that evaluates arithmetic and refuses everything else."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from nexuschat.tools import (
    BUILTINS,
    ToolContext,
    ToolFailure,
    calculate,
    parse_arguments,
    tool_from_function,
)

CONTEXT = ToolContext(timezone="Asia/Shanghai")


def by_name(name: str):
    return next(tool for tool in BUILTINS if tool.name == name)


def test_a_schema_comes_from_the_signature_and_the_docstring():
    def book(city: Annotated[str, Field(description="Where")], nights: int = 1,
             *, context: ToolContext) -> dict:
        """Book a room.

        More details the model does not need."""
        return {"city": city, "nights": nights, "zone": context.timezone}

    tool = tool_from_function(book)
    assert tool.to_request() == {"type": "function", "function": {
        "name": "book", "description": "Book a room.", "parameters": {
            "type": "object", "additionalProperties": False, "required": ["city"],
            "properties": {"city": {"type": "string", "description": "Where"},
                           "nights": {"type": "integer", "default": 1}}}}}
    assert json.loads(tool.run({"city": "Paris"}, CONTEXT)) == {
        "city": "Paris", "nights": 1, "zone": "Asia/Shanghai"}


@pytest.mark.parametrize("arguments, said", [
    ({}, "city: Field required"),
    ({"city": "Paris", "nights": "many"}, "nights: Input should be a valid integer"),
    ({"city": "Paris", "rooms": 2}, "rooms: Extra inputs are not permitted"),
])
def test_arguments_are_validated_before_the_function_runs(arguments, said):
    ran = []

    def book(city: str, nights: int = 1) -> str:
        """Book."""
        ran.append(city)
        return "ok"

    with pytest.raises(ToolFailure) as caught:
        tool_from_function(book).run(arguments, CONTEXT)
    assert said in caught.value.message and ran == []


def test_arguments_text_must_be_a_json_object():
    assert parse_arguments('{"a": 1}') == {"a": 1} and parse_arguments("  ") == {}
    for bad in ("[1]", "{not json", '"text"'):
        with pytest.raises(ToolFailure):
            parse_arguments(bad)


@pytest.mark.parametrize("expression, result", [
    ("1 + 2 * 3", "7"), ("(1.5 + 2) * 3 ** 2", "31.5"), ("2 ** 100", str(2 ** 100)),
    ("7 // 2", "3"), ("(((((1)))))", "1"), ("7 % 3", "1"), ("-3 ** 2", "-9"),
    ("10 / 4", "2.5"), ("6 × 7", "42"),
    ("1e3 + 1", "1001"), ("0.1 + 0.2", "0.30000000000000004"), ("2 ** -1", "0.5"),
])
def test_the_calculator_does_arithmetic(expression, result):
    assert calculate(expression) == result


@pytest.mark.parametrize("expression, said", [
    ("__import__('os').system('id')", "only numbers"),
    ("x + 1", "only numbers"),
    ("(1).real", "only numbers"),
    ("abs(-1)", "only numbers"),
    ("[1, 2]", "only numbers"),
    ("'a' * 3", "only numbers"),
    ("True + 1", "only numbers"),
    ("1j * 1j", "only numbers"),
    ("lambda: 1", "only numbers"),
    ("2 ^ 10", "write **"),
    ("9 ** 9 ** 9", "too large"),
    ("10 ** 100000", "too large"),
    ("2 ** 5000", "too large"),
    ("1.5 ** 10000", "too large"),
    ("(-8) ** 0.5", "not a real number"),
    ("1 / 0", "division by zero"),
    ("1+(" * 35 + "1" + ")" * 35, "nested too deeply"),
    ("-" * 100 + "1", "nested too deeply"),
    ("1 + " * 200 + "1", "longer than"),
    ("import os", "not an arithmetic expression"),
])
def test_the_calculator_refuses_anything_that_is_not_arithmetic(expression, said):
    with pytest.raises(ToolFailure) as caught:
        calculate(expression)
    assert said in caught.value.message


@given(st.text(max_size=60))
def test_the_calculator_never_raises_anything_but_a_tool_failure(text):
    with contextlib.suppress(ToolFailure):
        calculate(text)


def test_the_time_is_the_users_or_a_named_zone():
    mine = json.loads(by_name("current_time").run({}, CONTEXT))
    assert mine["timezone"] == "Asia/Shanghai" and mine["utc_offset"] == "+0800"
    paris = json.loads(by_name("current_time").run({"timezone": "Europe/Paris"}, CONTEXT))
    assert paris["timezone"] == "Europe/Paris"
    with pytest.raises(ToolFailure, match="unknown time zone"):
        by_name("current_time").run({"timezone": "Mars/Olympus"}, CONTEXT)


@pytest.mark.parametrize("value, source, target, expected", [
    (100, "degC", "degF", 212.0), (5, "km", "mile", 3.10685596119), (1, "lb", "kg", 0.45359237),
    (1, "GiB", "MB", 1073.741824), (60, "mph", "km/h", 96.56064),
])
def test_units_convert(value, source, target, expected):
    result = json.loads(by_name("convert_units").run(
        {"value": value, "from_unit": source, "to_unit": target}, CONTEXT))
    assert result["value"] == pytest.approx(expected)


def test_units_of_different_kinds_or_unknown_units_are_refused():
    convert = by_name("convert_units")
    with pytest.raises(ToolFailure, match="cannot be converted"):
        convert.run({"value": 1, "from_unit": "kg", "to_unit": "m"}, CONTEXT)
    with pytest.raises(ToolFailure, match="unknown unit"):
        convert.run({"value": 1, "from_unit": "smoots2", "to_unit": "m"}, CONTEXT)
