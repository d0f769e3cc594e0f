"""LaTeX delimiters Streamlit does not read become ones it does; prices stay prices; code stays."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexuschat.rich_text import streamlit_maths


@pytest.mark.parametrize("source, shown", [
    (r"Euler: \(e^{i\pi} + 1 = 0\).", r"Euler: $e^{i\pi} + 1 = 0$."),
    (r"面积 \( S = \pi r^2 \) 平方米", r"面积 $S = \pi r^2$ 平方米"),
    ("Solve\n\\[\n x^2 = 4\n\\]\nso x = 2.", "Solve\n$$\nx^2 = 4\n$$\nso x = 2."),
    (r"\[ \int_0^1 x\,dx = \tfrac12 \]", "$$\n\\int_0^1 x\\,dx = \\tfrac12\n$$"),
    (r"inline \[a+b\] display", r"inline $$a+b$$ display"),
    ("- item\n  \\[ y = mx + b \\]", "- item\n  $$\n  y = mx + b\n  $$"),
])
def test_latex_delimiters_become_dollars(source, shown):
    assert streamlit_maths(source) == shown


def test_prices_are_kept_as_prices_next_to_maths():
    text = r"It costs $5 and $10, or $1,000.50 a year; \(x^2\) grows."
    assert streamlit_maths(text) == r"It costs \$5 and \$10, or \$1,000.50 a year; $x^2$ grows."
    # Maths the model wrote with dollars is left as Streamlit reads it.
    assert streamlit_maths("$5x + 1$ and $y$") == "$5x + 1$ and $y$"
    assert streamlit_maths(r"\(5\) apples at $3") == r"$5$ apples at \$3"


def test_code_is_left_exactly_as_it_is():
    text = ("Use `\\(x\\)` or `$5`:\n\n```latex\n\\[ a \\]\n$5\n```\n"
            "~~~\n\\(b\\)\n~~~\nthen \\(c\\)")
    shown = streamlit_maths(text)
    assert "`\\(x\\)`" in shown and "`$5`" in shown
    assert "```latex\n\\[ a \\]\n$5\n```" in shown and "~~~\n\\(b\\)\n~~~" in shown
    assert shown.endswith("then $c$")


def test_what_is_not_latex_is_not_touched():
    for text in ("plain text", r"an escaped \\(not maths\\)", "a \\( never closed",
                 "\\(\n\n\\) across a paragraph", "(parens) [brackets]", "\\(  \\)"):
        assert streamlit_maths(text) == text


def test_an_unclosed_fence_keeps_the_rest_as_code():
    text = "```\n\\(x\\) $5"
    assert streamlit_maths(text) == text


@given(st.text(alphabet=st.sampled_from(list("ab $\\()[]`~\n5x ")), max_size=80))
def test_any_text_converts_without_losing_anything_but_delimiters(text):
    shown = streamlit_maths(text)
    # Only delimiters change and backslashes are added: the letters stay, in order.
    assert [c for c in shown if c in "abx5"] == [c for c in text if c in "abx5"]
    assert streamlit_maths(text) == shown  # deterministic


def test_page_markdown_converts_then_makes_inert():
    from nexuschat.rich_text import page_markdown

    shown = page_markdown("\\(x\\) ![t](https://evil.example/p.png)")
    assert shown == "$x$ \\![t](https://evil.example/p.png)"  # the image is only a link now
