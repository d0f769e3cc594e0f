import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexuschat.params import (
    GenerationParams,
    as_dict,
    from_dict,
    parse_stop,
    stop_text,
    to_request,
    validate,
)


def codes(p: GenerationParams) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in validate(p)]


@pytest.mark.parametrize("value, ok", [(0, True), (0.0, True), (1.99, True), (2, False),
                                       (2.0, False), (-0.01, False), (float("nan"), False)])
def test_temperature_is_half_open_zero_to_two(value, ok):
    assert (codes(GenerationParams(temperature=value)) == []) is ok


@pytest.mark.parametrize("value, ok", [(0, False), (0.0, False), (0.001, True), (1, True),
                                       (1.0001, False)])
def test_top_p_is_open_zero_closed_one(value, ok):
    assert (codes(GenerationParams(top_p=value)) == []) is ok


def test_temperature_and_top_p_together_are_refused():
    assert ("top_p", "params.error.temperature_or_top_p") in codes(
        GenerationParams(temperature=0.5, top_p=0.5))


@pytest.mark.parametrize("name", ["presence_penalty", "frequency_penalty"])
@pytest.mark.parametrize("value, ok", [(-2, True), (-2.0, True), (2, True), (2.01, False),
                                       (-2.01, False), (0, True)])
def test_penalties_are_closed_minus_two_to_two(name, value, ok):
    assert (codes(GenerationParams(**{name: value})) == []) is ok


@pytest.mark.parametrize("value, ok", [(1, True), (100_000, True), (0, False), (-5, False),
                                       (1.5, False), (True, False)])
def test_max_tokens_is_a_positive_int(value, ok):
    assert (codes(GenerationParams(max_tokens=value)) == []) is ok


def test_at_most_four_stop_sequences():
    assert codes(GenerationParams(stop=("a", "b", "c", "d"))) == []
    assert codes(GenerationParams(stop=("a", "b", "c", "d", "e"))) == [
        ("stop", "params.error.too_many_stops")]
    assert codes(GenerationParams(stop=("a", ""))) == [("stop", "params.error.empty_stop")]


@pytest.mark.parametrize("value, ok", [(0, True), (-1, True), (2**63 - 1, True), (2**63, False),
                                       (-(2**63) - 1, False), (1.0, False)])
def test_seed_is_a_64_bit_int(value, ok):
    assert (codes(GenerationParams(seed=value)) == []) is ok


def test_user_length_is_bounded():
    assert codes(GenerationParams(user="u" * 256)) == []
    assert codes(GenerationParams(user="u" * 257)) == [("user", "params.error.user_too_long")]


def test_errors_carry_placeholders_for_the_message():
    (error,) = validate(GenerationParams(temperature=2))
    assert error.params == {"field": "temperature", "low": 0, "high": 2}


def test_only_set_fields_are_sent():
    assert to_request(GenerationParams()) == {}
    body = to_request(GenerationParams(temperature=0.0, stop=("END",), seed=0, user=""))
    assert body == {"temperature": 0.0, "stop": ["END"], "seed": 0}


def test_parse_stop_reads_lines_and_escapes_but_keeps_unicode():
    assert parse_stop("END\n\n  \n\\n\\nDone\n停止") == ("END", "\n\nDone", "停止")


def test_stop_text_writes_what_parse_stop_reads():
    assert stop_text(("END", "\n\nDone", "a\tb", "停止")) == "END\n\\n\\nDone\na\\tb\n停止"
    assert stop_text(()) == ""
    assert parse_stop(stop_text(("###", "\nUser:", "\t"))) == ("###", "\nUser:", "\t")


# Sequences a text area can hold one a line: no line breaks of their own (newline and tab are
# written as escapes), no backslashes that would read as one, something besides spaces.
_SEQUENCE = st.text(st.characters(blacklist_categories=("Cs", "Zl", "Zp", "Cc"),
                                  blacklist_characters="\\\x85"), min_size=1).map(
    lambda s: s.replace(" ", "\n", 1)).filter(str.strip)


@given(st.lists(_SEQUENCE, max_size=4).map(tuple))
def test_stop_sequences_survive_being_shown_and_read_back(stop):
    assert parse_stop(stop_text(stop)) == stop


def test_round_trip_through_plain_dicts():
    p = GenerationParams(temperature=0.3, stop=("x",), max_tokens=5)
    assert from_dict(as_dict(p)) == p
    assert from_dict({"temperature": 1, "bogus": 3}) == GenerationParams(temperature=1)


def test_thinking_goes_only_to_a_model_that_takes_a_switch():
    from nexuschat.params import thinking_request

    on = GenerationParams(thinking=True, thinking_budget=2048)
    assert thinking_request(on, "budget") == {"enable_thinking": True, "thinking_budget": 2048}
    assert thinking_request(on, "switch") == {"enable_thinking": True}
    assert thinking_request(on, None) == {}
    off = GenerationParams(thinking=False, thinking_budget=2048)
    assert thinking_request(off, "budget") == {"enable_thinking": False}
    assert thinking_request(GenerationParams(thinking_budget=9), "budget") == {}  # default
    assert "thinking" not in to_request(on) and "thinking_budget" not in to_request(on)


def test_thinking_budget_must_be_a_positive_whole_number():
    assert [e.field for e in validate(GenerationParams(thinking_budget=0))] == ["thinking_budget"]
    assert validate(GenerationParams(thinking_budget=1)) == []
    assert from_dict(as_dict(GenerationParams(thinking=False, thinking_budget=5))) == \
        GenerationParams(thinking=False, thinking_budget=5)
