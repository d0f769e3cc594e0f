"""Tools a model may call: plain typed functions, their JSON Schema derived through pydantic, and
the built-ins (a calculator, the date and time, a unit converter).

A tool's schema comes from its signature (types, defaults, `Annotated[..., Field(description=)]`)
and its docstring's first paragraph; the model's arguments are validated against the same
pydantic model before the function runs, so a tool never sees arguments its schema refuses.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import inspect
import json
import math
import operator
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import pydantic
from pydantic import Field

SOURCE_BUILTIN = "builtin"  # Tool.source: run by the app
SOURCE_USER = "user"  # defined by the user in Settings: the user types the result


class ToolFailure(Exception):
    """A tool could not give a result; `message` is what the model is told (plain English: the
    model reads it, not the user)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Tool:
    """A function the model may call: its name, description, JSON Schema, and how it runs."""

    name: str
    description: str
    parameters: dict = field(default_factory=dict)  # JSON Schema of the arguments object
    source: str = SOURCE_BUILTIN  # SOURCE_BUILTIN, SOURCE_USER, or an MCP server's name
    run: Callable[[dict, ToolContext], str] | None = field(default=None, compare=False)

    def to_request(self) -> dict:
        """The tool as the `tools` array of a chat request carries it."""
        return {"type": "function", "function": {"name": self.name,
                                                 "description": self.description,
                                                 "parameters": self.parameters}}


@dataclass(frozen=True)
class ToolContext:
    """What a tool may know of the person asking (nothing secret)."""

    timezone: str = "UTC"  # the browser's IANA time zone (st.context.timezone)


# --- deriving a tool from a typed function ---------------------------------------------------


def tool_from_function(func: Callable[..., Any], *, name: str | None = None) -> Tool:
    """A Tool whose schema is `func`'s signature; `context: ToolContext`, if `func` takes it,
    is filled in by the app and not shown to the model."""
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func, include_extras=True)  # Annotated descriptions kept
    fields: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.name == "context":
            continue
        annotation = hints.get(parameter.name, str)
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    model = pydantic.create_model(f"{func.__name__}_arguments",
                                  __config__=pydantic.ConfigDict(extra="forbid"), **fields)
    takes_context = "context" in signature.parameters

    def run(arguments: dict, context: ToolContext) -> str:
        try:
            values = model.model_validate(arguments).model_dump()
        except pydantic.ValidationError as exc:
            raise ToolFailure("invalid arguments: " + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                for e in exc.errors(include_url=False))) from None
        result = func(**values, context=context) if takes_context else func(**values)
        return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)

    return Tool(name=name or func.__name__, description=_summary(func),
                parameters=_clean_schema(model.model_json_schema()), run=run)


def _summary(func: Callable) -> str:
    doc = inspect.getdoc(func) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def _clean_schema(schema: dict) -> dict:
    """pydantic's schema without its `title`s (noise a model pays tokens for)."""
    if isinstance(schema, dict):
        return {k: _clean_schema(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_clean_schema(v) for v in schema]
    return schema


def parse_arguments(text: str) -> dict:
    """A tool call's arguments (JSON text, as the model sent it) as an object; ToolFailure if
    they are not a JSON object."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise ToolFailure("the arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise ToolFailure("the arguments must be a JSON object")
    return value


# --- the calculator ---------------------------------------------------------------------------

MAX_EXPRESSION_CHARS = 500
MAX_DEPTH = 30
MAX_RESULT_BITS = 4096  # integers up to about 1,200 digits
MAX_EXPONENT = 10_000

_BINARY: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: Mapping[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def calculate(expression: Annotated[str, Field(
        description="Arithmetic only: numbers, + - * / // % ** and parentheses, "
                    "e.g. (1.5 + 2) * 3 ** 2")]) -> str:
    """Evaluate an arithmetic expression exactly (integers stay exact; decimals are floating
    point). Use it for any arithmetic instead of working it out in your head."""
    text = expression.strip()
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ToolFailure(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text.replace("×", "*").replace("÷", "/"), mode="eval")
    except SyntaxError:
        raise ToolFailure("not an arithmetic expression") from None
    value = _evaluate(tree.body, 0)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ToolFailure("the result is too large")
        return repr(value) if not value.is_integer() or abs(value) >= 1e16 else str(int(value))
    return str(value)


def _evaluate(node: ast.AST, depth: int) -> int | float:
    if depth > MAX_DEPTH:
        raise ToolFailure("the expression is nested too deeply")
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, depth + 1))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, depth + 1), _evaluate(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ToolFailure("division by zero") from None
        except OverflowError:
            raise ToolFailure("the result is too large") from None
        if isinstance(result, complex):
            raise ToolFailure("the result is not a real number")
        if isinstance(result, int) and result.bit_length() > MAX_RESULT_BITS:
            raise ToolFailure("the result is too large")
        return result
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        raise ToolFailure("^ is not a power here: write ** (2 ** 10)")
    raise ToolFailure("only numbers, + - * / // % ** and parentheses are allowed")


def _check_power(base: int | float, exponent: int | float) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolFailure("the exponent is too large")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
            and abs(base).bit_length() * exponent > MAX_RESULT_BITS + 64:
        raise ToolFailure("the result is too large")


# --- the date and time --------------------------------------------------------------------------


def current_time(
        timezone: Annotated[str | None, Field(
            description="An IANA time zone such as Asia/Shanghai or Europe/Paris; leave it out "
                        "for the user's own")] = None,
        *, context: ToolContext) -> dict:
    """The current date, time and weekday, in the user's time zone or a named one."""
    name = timezone or context.timezone or "UTC"
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ToolFailure(f"unknown time zone {name!r}") from None
    now = dt.datetime.now(zone)
    return {"timezone": name, "date": now.date().isoformat(), "time": now.strftime("%H:%M:%S"),
            "weekday": now.strftime("%A"), "utc_offset": now.strftime("%z"),
            "iso": now.isoformat(timespec="seconds")}


# --- units ----------------------------------------------------------------------------------------


@functools.cache
def _units():
    # pint's registry takes about 0.3 s to build: once per process, then only read.
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def convert_units(
        value: Annotated[float, Field(description="The amount to convert")],
        from_unit: Annotated[str, Field(description="Its unit, e.g. km, mi, lb, degC, kWh")],
        to_unit: Annotated[str, Field(description="The unit wanted, of the same kind")]) -> dict:
    """Convert an amount between units of the same kind (length, mass, temperature, volume,
    speed, energy, data size, ...)."""
    import pint

    units = _units()
    try:
        result = units.Quantity(value, from_unit).to(to_unit)
    except pint.errors.DimensionalityError:
        raise ToolFailure(f"{from_unit} cannot be converted to {to_unit}") from None
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError,
            ValueError, TypeError, KeyError, AssertionError, SyntaxError):
        raise ToolFailure(f"unknown unit in {from_unit!r} or {to_unit!r}") from None
    return {"value": float(f"{result.magnitude:.12g}"), "unit": f"{result.units:~P}" or to_unit}


BUILTINS: tuple[Tool, ...] = (
    tool_from_function(calculate),
    tool_from_function(current_time),
    tool_from_function(convert_units),
)
