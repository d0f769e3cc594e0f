"""The sanitising path: payload classes, and properties checked with CommonMark parsers.

The parsers stand in for Streamlit's (micromark) in the browser: markdown-it-py with GFM
tables, strikethrough and footnotes, read once without and once with `$` maths, as Streamlit
turns maths on or off by a heuristic. Link validation is switched off so that the parser
shows every destination it would emit.

The property tests run derandomized (the same examples every run): a property that finds
something must find it every time, never on one CI run in ten. Where markdown-it's `$` maths
differs from micromark's, micromark (the browser) is the reference: markdown-it's dollarmath
closes `$` at the first `$` of a `$$` run, micromark only at a run of the same length, so for
"$`$$<a href='`'>" the browser reads a code span (test below) where markdown-it reads maths and
then HTML (found by a randomized run).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin

from nexuschat.safe_text import dest_is_safe, markdown_content, plain_text, strip_invisible

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _parser(maths: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(footnote_plugin)
    if maths:
        md.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
    md.validateLink = lambda url: True
    return md


PARSERS = (_parser(False), _parser(True))


def _tokens(md: MarkdownIt, text: str):
    for token in md.parse(text):
        yield token
        yield from token.children or ()


def _unsafe(text: str) -> list[str]:
    """What a parser would make of `text` that must never reach the page."""
    found = []
    for md in PARSERS:
        for token in _tokens(md, text):
            if token.type in ("image", "html_inline", "html_block", "footnote_reference"):
                found.append(token.type)
            href = token.attrs.get("href") if token.type == "link_open" else None
            if href is not None and not _href_safe(str(href)):
                found.append(f"link {href}")
    return found


def _href_safe(href: str) -> bool:
    url = re.sub(r"[\t\n\r]", "", href).strip("".join(map(chr, range(33))))
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", url)
    return scheme is None or scheme.group(1).lower() in {"http", "https", "mailto"}


def _code(md: MarkdownIt, text: str) -> list[tuple[str, str]]:
    return [(t.type, t.content) for t in _tokens(md, text)
            if t.type in ("fence", "code_inline")]


# Payload classes ---------------------------------------------------------------------------

REMOTE = "https://evil.example/p.png"


@pytest.mark.parametrize("payload", [
    f"![a]({REMOTE})",
    f'![a]({REMOTE} "t")',
    f"![a][r]\n\n[r]: {REMOTE}",
    "![r]\n\n[r]: " + REMOTE,
    f"[![inner]({REMOTE})](https://ok.example)",
    f"![a](<{REMOTE}>)",
    f"\\\\![a]({REMOTE})",  # an escaped backslash, then an image
    f"- ![a]({REMOTE})\n> ![b]({REMOTE})",
    f"| a |\n| - |\n| ![c]({REMOTE}) |",
    f"`x` ![a]({REMOTE}) `y`",
    f"https://evil.example/a`b ![a]({REMOTE}) `c`",
    f'<img src="{REMOTE}">',
    f"<svg onload=alert(1)>![a]({REMOTE})",
    f"$`$ ![a]({REMOTE}) `x`",
    f':abc[d]{{e="`"}} ![a]({REMOTE}) `z`',
])
def test_images_never_survive(payload):
    out = markdown_content(payload)
    assert not [u for u in _unsafe(out) if u == "image"], out


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "&#106;avascript:alert(1)",
    "&#x6A;avascript:alert(1)", "java&#9;script:alert(1)", "javascript&colon;alert(1)",
    "javascript\\:alert(1)", "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)", "file:///etc/passwd",
    "xmpp:a@b.c", " javascript:alert(1)", "<javascript:alert(1)>",
])
def test_dangerous_link_destinations_are_neutralised(href):
    for payload in (f"[a]({href})", f"[a]: {href}\n\n[a]", f"[a][r]\n\n[r]: {href}",
                    f"[a]({href} \"title\")", f"<{href}>", f"x [a](\n{href})"):
        out = markdown_content(payload)
        assert not _unsafe(out), (payload, out)


def test_safe_links_formatting_and_tables_stay_as_they_are():
    text = ("# Title\n\nSome **bold**, _it_, ~~gone~~ and [a link](https://ok.example/x?a=1 "
            "\"T\") and <https://ok.example> and mailto [me](mailto:a@b.example).\n\n"
            "| col | `code` |\n| --- | --- |\n| 1 | `x` |\n\n- item\n- [ ] task\n\n"
            "1. step\n   ```bash\n   echo <done>\n   ```\n")
    assert markdown_content(text) == text


def test_code_is_kept_byte_for_byte():
    text = ("Use `<img src=x onerror=alert(1)>` or `![a](https://e.example/i.png)`.\n\n"
            "```markdown\n![a](https://e.example/i.png)\n[r]: javascript:x\n<script>\n```\n"
            "~~~\n:::box\n~~~\n")
    assert markdown_content(text) == text


def test_raw_html_and_directives_show_as_text():
    out = markdown_content("<script>alert(1)</script>\n<div onclick=x>hi</div>\n:::box\n"
                           ":red[x] and a < b")
    assert out == ("\\<script>alert(1)\\</script>\n\\<div onclick=x>hi\\</div>\n\\:::box\n"
                   "\\:red[x] and a < b")
    assert not _unsafe(out)


def test_unsure_fences_are_sanitised_not_trusted():
    nested = "- item\n      ```\n      ![a](https://e.example/i.png)\n      ```"
    assert "\\![a]" in markdown_content(nested)
    maths = "$$\n```\n$$\n![a](https://e.example/i.png)\n```"
    assert "\\![a]" in markdown_content(maths)


def test_bidi_and_invisible_controls_are_removed_but_emoji_joiners_stay():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    flag = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    text = f"a\u202eb\u2066c\u200bd\u200ee\ufeff {family} {flag} \U000e0041x\x00\x1b"
    assert strip_invisible(text) == f"abcde {family} {flag} x"
    assert markdown_content(text) == f"abcde {family} {flag} x"
    assert plain_text("report\u202egpj.exe") == "reportgpj.exe"


def test_plain_text_escapes_everything_streamlit_reads():
    assert plain_text("![t](https://evil.example/x.png) :red[a] $x$ <b> :material/home:") \
        == "!\\[t\\](https://evil.example/x.png) \\:red\\[a\\] \\$x\\$ \\<b> \\:material\\/home:"
    assert plain_text("# 1. *a* _b_ ~c~ `d` &amp; :smile: \\") \
        == "\\# 1. \\*a\\* \\_b\\_ \\~c\\~ \\`d\\` \\&amp; \\:smile: \\\\"
    assert plain_text("1. x") == "1\\. x" and plain_text("claude-sonnet-4-6") == "claude-sonnet-4-6"
    assert plain_text("  two\nlines\tand tabs ") == "two lines and tabs"
    assert plain_text("a\n- b|c\n\nd", one_line=False) == "a\\\n\\- b\\|c\n\nd"


@pytest.mark.parametrize(("destination", "safe"), [
    ("https://ok.example", True), ("HTTP://ok", True), ("mailto:a@b", True), ("/x", True),
    ("x.html", True), ("#frag", True), ("//host/x", True), ("a/b:c", True),
    ("javascript:x", False), ("jav&#x61;script:x", False), ("java\\script:x", True),
    ("data:x", False), ("\x01javascript:x", False), ("java\nscript:x", False),
])
def test_destination_check(destination, safe):
    assert dest_is_safe(destination) is safe


# Properties ---------------------------------------------------------------------------------

PIECES = st.sampled_from([
    "`", "``", "```", "~~~", "$", "$$", "!", "[", "]", "(", ")", "<", ">", "\\", ":", "|",
    "*", "_", "#", "-", "1.", ">", " ", "  ", "    ", "\t", "\n", "\n\n", "\"", "'", "&",
    "&#106;", "&colon;", "&lt;", "x", "y", "abc", "![a](", "](", "[r]: ", "[^1]", "[^1]: ",
    "javascript:", "JavaScript:", "data:", "https://evil.example/i.png", "www.evil.example",
    "<img src=x>", "<a href='`'>", "<https://ok.example>", "<mailto:a@b.c>", ":::x", "::y",
    ":red[", "{a=\"`\"}", "- ", "> ", "   ", "\u202e", "| --- |", "---",
])
MARKDOWNISH = st.lists(PIECES, max_size=40).map("".join)


@settings(max_examples=600, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_never_raises_on_any_text(text):
    assert isinstance(markdown_content(text), str)
    assert isinstance(plain_text(text), str)
    assert isinstance(plain_text(text, one_line=False), str)


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(MARKDOWNISH)
@example("https://e.example/a`b ![a](https://evil.example/i.png) `c`")
@example("| a |\n| - |\n| `x | ![i](https://evil.example/i.png) | ` |")
def test_no_image_html_or_dangerous_link_survives(text):
    out = markdown_content(text)
    assert not _unsafe(out), (text, out)
    assert not any(c in out for c in BIDI)


CODE_TEXT = st.text(alphabet=st.sampled_from([*"abc <>![]()/:$|*_\\&#;\"'=", "\u00e9"]),
                    max_size=30)


@st.composite
def documents_with_code(draw):
    """Ordinary layouts: paragraphs with inline code, top-level and list fences."""
    blocks = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["para", "fence", "list_fence"]))
        if kind == "para":
            inner = draw(CODE_TEXT.filter(lambda s: "|" not in s and s.strip() == s and s))
            # words around the span, without what could swallow a backtick or open a fence
            words = draw(MARKDOWNISH.map(lambda s: re.sub(r"[`$~\n|()<>\\\[\]]", " ", s)))
            blocks.append(f"{words} `{inner}` end")
        else:
            lang = draw(st.sampled_from(["", "python", "html"]))
            body = "\n".join(draw(st.lists(CODE_TEXT, max_size=4)))
            indent = "   " if kind == "list_fence" else ""
            lines = [f"{indent}```{lang}",
                     *[indent + line for line in body.split("\n")], f"{indent}```"]
            prefix = "1. step\n" if kind == "list_fence" else ""
            blocks.append(prefix + "\n".join(lines))
    return "\n\n".join(blocks)


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(documents_with_code())
def test_code_blocks_and_spans_survive_byte_for_byte(text):
    out = markdown_content(text)
    for md in PARSERS[:1]:  # code spans and fences, as CommonMark reads them
        assert _code(md, out) == _code(md, strip_invisible(text)), (text, out)


def _rendered_text(md: MarkdownIt, source: str) -> str:
    parts = []
    for token in _tokens(md, source):
        if token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


@settings(max_examples=800, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
               max_size=60))
@example("&amp; *x* `y` $z$ [a](b) ![c](d) <e> :red[f] 1. # - | ~ \\")
def test_plain_text_renders_exactly_as_typed(text):
    expected = re.sub(r"[ \t\n\r\f\v]*[\t\n\r\f\v][ \t\n\r\f\v]*", " ",
                      strip_invisible(text.replace("\r\n", "\n").replace("\r", "\n"))
                      ).strip(" ")
    for md in PARSERS:
        assert _rendered_text(md, plain_text(text)) == expected.strip(), text


def test_a_dollar_run_of_another_length_does_not_close_maths_so_the_code_span_stands():
    # micromark: `$` (1) finds no closing run of length 1, so it is text, and the backticks
    # pair into a code span that holds the `<`: nothing to escape, and nothing escaped.
    text = "$`$$<a href='`'>"
    assert markdown_content(text) == text
    plain = _parser(maths=False)
    assert ("code_inline", "$$<a href='") in _code(plain, text)
    assert not [t for t in _tokens(plain, text) if t.type.startswith("html")]
