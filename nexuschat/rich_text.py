"""Model output as Streamlit renders it best: LaTeX delimiters it does not read, made ones it does.

Chinese models (Qwen, DeepSeek, GLM, Kimi) write maths between `\\( … \\)` and `\\[ … \\]`, which
Streamlit's Markdown shows as literal brackets; it renders `$ … $` and `$$ … $$` (KaTeX). Outside
code spans and fenced blocks, `\\( x \\)` becomes `$x$` and `\\[ x \\]` becomes `$$x$$` (a block
of its own when it stands on its own lines). A `$` that is a price ("$5 and $10") is escaped, so
that a message with maths in it does not read the text between two prices as maths; a `$` that
opens maths as Streamlit would read it (`$5x + 1$`) is left alone.

Runs before `nexuschat.safe_text.markdown_content` on every repaint, so it is one pass of
regular expressions over the text, with a fast exit when there is no backslash-paren, -bracket
or dollar at all.
"""

from __future__ import annotations

import re

from nexuschat.safe_text import markdown_content

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TICKS = re.compile(r"`+")
# Placeholders for code spans while the rest is rewritten (private-use characters).
_HOLD, _HOLD_END = "\ue000", "\ue001"
_HELD = re.compile(f"{_HOLD}(\\d+){_HOLD_END}")
# \[ … \] alone on its lines (a display block), then anywhere; \( … \) within a paragraph.
_DISPLAY_BLOCK = re.compile(r"(?m)^([ \t]*)(?<!\\)\\\[[ \t]*\n?(.+?)\n?[ \t]*(?<!\\)\\\][ \t]*$",
                            re.S)
_CLOSE = re.compile(r"(?<!\\)\\\]")
_DISPLAY = re.compile(r"(?<!\\)\\\[(.+?)(?<!\\)\\\]", re.S)
_INLINE = re.compile(r"(?<!\\)\\\((.+?)(?<!\\)\\\)", re.S)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Maths as Streamlit's renderer finds it (a `$` not followed by a space or `$`, text, a `$`
# not after a space and not before a digit); any other `$` before a digit is a price.
_MATH_SPAN = re.compile(r"(?<![\\$])\$(?![\s$])[^$\n]*?[^\s$\\]\$(?!\d)")
_PRICE = re.compile(r"(?<![\\$])\$(?=\d)")


def page_markdown(text: str) -> str:
    """Message text (a reply, a question, an earlier attempt) as the page renders it: maths
    Streamlit reads, then made inert (the one path for content: nexuschat.safe_text)."""
    return markdown_content(streamlit_maths(text))


def streamlit_maths(text: str) -> str:
    """`text` with LaTeX's `\\( \\)` / `\\[ \\]` as `$` / `$$` and prices' `$` escaped, outside
    code."""
    if "\\(" not in text and "\\[" not in text and "$" not in text:
        return text
    out: list[str] = []
    prose: list[str] = []
    fence: tuple[str, int] | None = None
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence is None and opener:
            out.append(_prose("\n".join(prose)) if prose else None)
            prose = []
            fence = (opener.group(1)[0], len(opener.group(1)))
            out.append(line)
        elif fence is not None:
            out.append(line)
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= fence[1] \
                    and not line.strip().lstrip(fence[0]):
                fence = None
        else:
            prose.append(line)
    if prose:
        out.append(_prose("\n".join(prose)))
    return "\n".join(part for part in out if part is not None)


def _prose(text: str) -> str:
    """One stretch of text between fenced code blocks."""
    held: list[str] = []

    def hold(span: str) -> str:
        held.append(span)
        return f"{_HOLD}{len(held) - 1}{_HOLD_END}"

    text = _hold_code_spans(text, hold)
    text = _DISPLAY_BLOCK.sub(lambda m: m[0] if _BLANK_LINE.search(m[2]) or _CLOSE.search(m[2])
                              else f"{m[1]}$$\n{m[1]}{m[2].strip()}\n{m[1]}$$", text)
    text = _DISPLAY.sub(lambda m: f"$${m[1].strip()}$$" if not _BLANK_LINE.search(m[1])
                        else m[0], text)
    text = _INLINE.sub(lambda m: f"${m[1].strip()}$" if m[1].strip()
                       and not _BLANK_LINE.search(m[1]) else m[0], text)
    text = _escape_prices(text)
    return _HELD.sub(lambda m: held[int(m[1])], text) if held else text


def _hold_code_spans(text: str, hold) -> str:
    """Code spans (a run of backticks up to the next run of the same length, in one paragraph)
    swapped for placeholders."""
    if "`" not in text:
        return text
    out, position = [], 0
    runs = list(_TICKS.finditer(text))
    used = set()
    for i, run in enumerate(runs):
        if i in used or run.start() < position:
            continue
        closing = next((j for j in range(i + 1, len(runs)) if j not in used
                        and len(runs[j][0]) == len(run[0])), None)
        if closing is None or _BLANK_LINE.search(text, run.end(), runs[closing].start()):
            continue
        used.add(closing)
        out += [text[position:run.start()], hold(text[run.start():runs[closing].end()])]
        position = runs[closing].end()
    out.append(text[position:])
    return "".join(out)


def _escape_prices(text: str) -> str:
    if "$" not in text:
        return text
    maths = [m.span() for m in _MATH_SPAN.finditer(text)]
    if not maths:
        return _PRICE.sub(r"\\$", text)

    def escape(match: re.Match[str]) -> str:
        at = match.start()
        inside = any(start <= at < end for start, end in maths)
        return match[0] if inside else "\\$"

    return _PRICE.sub(escape, text)
