"""Untrusted text made inert for Streamlit's Markdown: `markdown_content` and `plain_text`.

Everything the page shows from outside the app (model output, user messages, titles, file
names, server messages, model ids, snippets, imported JSON) goes through one of these two:

- `markdown_content(text)`: Markdown we keep as Markdown (replies, questions, earlier
  attempts). Formatting, tables, lists, maths, code and links to http/https/mailto stay.
  Images never load: `![alt](src)` loses its `!` and shows as a link to `src` (so nothing is
  hidden from the reader, and nothing is fetched until they choose to click). Raw HTML shows as
  text. Links and autolinks with any other scheme (javascript:, data:, file:, ..., in any
  case, entity-encoded or backslash-escaped) show as the text they were; reference
  definitions, footnote definitions and directives (`:::box`, `:red[...]`) show as text too,
  so every link that remains has a destination this module has read. Code spans and fenced
  code blocks are left byte for byte.
- `plain_text(text)`: text interpolated into our own Markdown templates and widget labels.
  Every character that makes Markdown there (emphasis, code, brackets, `<`, `$`, `~`, entities,
  `:` before a name, a line's leading `#`, `>`, `-`, `1.`, ...) is backslash-escaped, so it
  renders exactly as typed; ordinary ids and titles ("claude-sonnet-4-6") pass unchanged.

Both remove invisible characters that spoof text: bidi embeddings, overrides and isolates
(U+202A-U+202E, U+2066-U+2069), marks (U+200E, U+200F, U+061C), zero-width spaces, BOMs,
Hangul fillers, stray Unicode tag characters (kept in flag emoji), and C0/C1 controls except
tab and newline; ZWJ and ZWNJ stay (emoji, Indic and Persian text). This applies inside code
too: bidi controls in code are how "Trojan Source" hides what code does.

Why a scanner of our own: HTML sanitisers (nh3, bleach) work on HTML, and we never render
HTML: Streamlit renders Markdown *source* in the browser (react-markdown with GFM, maths,
directives and emoji). No maintained library rewrites Markdown source into Markdown that stays
Markdown but cannot load, link or run anything, so this module does that, and only that.

How it stays sound without a full CommonMark parser: it changes text only by inserting
backslashes (which render as nothing outside code), and it leaves a region verbatim only where
every reading the browser's parser could make of it agrees that the region is code:
- A fenced block is trusted only when its opening line is unindented or indented by at most 3
  spaces without container markers, its closing line sits at the same or a deeper indent (at
  most 3), and no line inside is indented less than the opener. The first fence-like line
  that does not meet this (nested deeper in a list, after `>`, a maths `$$` block with a fence
  inside, ...) ends trust in fences for the rest of the text: from there on, everything is
  sanitised as text (escapes then show inside such code; nothing is lost or made live).
- A code span is trusted only within one line, when pairing the line's backtick runs gives
  the same span with and without `$` maths (Streamlit turns maths on by a heuristic), and, on
  a line with a `|` (a possible table row), also cell by cell; and no earlier line of the same
  paragraph left a backtick or `$` run open, or held a URL that GFM autolinking could stretch
  over one (those can pair across lines or be swallowed).
- Constructs that would swallow backticks (link destinations and titles, autolinks, inline
  HTML) are only kept when they contain none.
It runs on every repaint of a streaming reply: one pass over the lines, regular expressions to
jump between the few characters that matter, bounded look-ahead; linear in the text's length
(bench/safe_text.py).
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_LOOKAHEAD = 2048  # a link's (destination "title") is read at most this far; longer is text

# Invisible characters that reorder or hide text (see the module docstring).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u115f\u1160\u180e\u200b\u200e\u200f"
    "\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb"
    "\U0001d173-\U0001d17a]"
    # Unicode tag characters: kept only inside a flag emoji (U+1F3F4 ... U+E007F)
    "|(\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f)|[\U000e0000-\U000e007f]"
)
_ASCII_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
# What makes Markdown of plain text: emphasis, code, links, HTML, maths, strikethrough,
# entities, and Streamlit's `:emoji:`, `:material/icon:` and `:directive[...]`; `|` makes tables
# only across lines. Other punctuation only counts at a line's start.
_PLAIN_ESCAPE = re.compile(r"[\\`*_\[\]<$~]|&(?=#?[A-Za-z0-9]+;)|:(?=[\w+\-])|(?<=:material)/")
_PLAIN_ESCAPE_BLOCK = re.compile(_PLAIN_ESCAPE.pattern + r"|\|")
_PLAIN_LINE_START = re.compile(r"\A(?:(\d{1,9})([.)])(?=[ \t]|\Z)|()([#>+=\-]))")
_ONE_LINE_SPACE = re.compile(r"[ \t\n\r\f\v]*[\t\n\r\f\v][ \t\n\r\f\v]*")

# Block level: container markers and indentation before a line's content.
_PREFIX = re.compile(r"(?:[ \t]*(?:>|(?:[-+*]|\d{1,9}[.)])(?=[ \t])))*[ \t]*")
_FENCE = re.compile(r"(`{3,}|~{3,}|\${2,})(.*)")
_TASK_BOX = re.compile(r"\[[ xX]\][ \t]")
_LIST_MARKER_END = re.compile(r"(?:[-+*]|\d{1,9}[.)])[ \t]+\Z")

# Inline level.
_SPECIAL = re.compile(r"[\\!\[\]<:]")
_RUN_D = re.compile(r"`+")
_RUN_E = re.compile(r"`+|\$+")
_TAG_LIKE = re.compile(r"<(?:[A-Za-z][A-Za-z0-9-]*(?=[\s/>]|\Z)|/[A-Za-z]|[!?])")
_URI_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}):[^\x00-\x20<>]*>")
_EMAIL_AUTOLINK = re.compile(
    r"<[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~\-]+@[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?)*>"
)
_DIRECTIVE = re.compile(r":[A-Za-z][A-Za-z0-9_\-]*[\[{]")
# A GFM autolink literal runs to the next space or `<`: one with a backtick or `$` in it
# swallows that character, so the line's code spans cannot be trusted.
_URL_LITERAL = re.compile(r"(?i)(?:https?://|www\.)[^\s<]*[`$]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def strip_invisible(text: str) -> str:
    """`text` without the invisible characters that reorder or hide text (flag emoji kept)."""
    return _INVISIBLE.sub(lambda m: m.group(1) or "", text)


def plain_text(text: str, *, one_line: bool = True) -> str:
    """Markdown that renders `text` literally (one line, ends trimmed, unless `one_line=False`)."""
    text = strip_invisible(str(text).replace("\r\n", "\n").replace("\r", "\n"))
    if one_line:
        return _escape_line(_ONE_LINE_SPACE.sub(" ", text).strip(" "), _PLAIN_ESCAPE)
    # Each line on its own: leading spaces would make code blocks; a backslash at a line's end
    # is a hard line break; a blank line stays a paragraph break.
    lines = [_escape_line(line.strip(" \t"), _PLAIN_ESCAPE_BLOCK) for line in text.split("\n")]
    out: list[str] = []
    for index, line in enumerate(lines):
        follows = index + 1 < len(lines) and line and lines[index + 1]
        out.append(line + ("\\" if follows else ""))
    return "\n".join(out)


def _escape_line(line: str, pattern: re.Pattern[str]) -> str:
    line = pattern.sub(r"\\\g<0>", line)
    return _PLAIN_LINE_START.sub(
        lambda m: f"{m.group(1) or ''}\\{m.group(2) or m.group(4)}", line, count=1)


def dest_is_safe(destination: str) -> bool:
    """Whether a link destination (as written in Markdown) is relative or http/https/mailto."""
    url = html.unescape(_BACKSLASH_ESCAPE.sub(r"\1", destination))
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(33))))
    found = _SCHEME.match(url)
    return found is None or found.group(1).lower() in ALLOWED_SCHEMES


def markdown_content(text: str) -> str:
    """`text` as Markdown that can show but not load, link out unsafely, or run anything."""
    text = strip_invisible(str(text).replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    code = _trusted_fence_lines(lines)
    out: list[str] = []
    poisoned = False  # an earlier line of this paragraph may pair with backticks on this one
    line_start = 0
    for index, line in enumerate(lines):
        if code[index] or not line.strip():
            out.append(line)
            poisoned = False  # a block or paragraph boundary every reading shares
        else:
            spans, dangling = _trusted_spans(line)
            out.append(_sanitise_line(text, line_start, line, [] if poisoned else spans))
            poisoned = poisoned or dangling
        line_start += len(line) + 1
    return "\n".join(out)


# Block level --------------------------------------------------------------------------------


def _indent(line: str) -> tuple[int, bool]:
    """The column of the first non-blank character (tabs to stops of 4), and whether tabs
    were among the leading blanks."""
    column, tabs = 0, False
    for char in line:
        if char == " ":
            column += 1
        elif char == "\t":
            column += 4 - column % 4
            tabs = True
        else:
            break
    return column, tabs


def _fence_like(line: str) -> tuple[str, int, str, bool] | None:
    """(fence character, run length, the rest, clean) when the line's content, after any
    container markers and blanks, starts like a fence; clean: no markers, no tabs, <= 3
    columns of indent."""
    prefix = _PREFIX.match(line)
    start = prefix.end() if prefix else 0
    found = _FENCE.match(line, start)
    if not found:
        return None
    run = found.group(1)
    lead = line[:start]
    clean = lead.strip(" ") == "" and len(lead) <= 3
    return run[0], len(run), found.group(2), clean


def _closes(line: str, char: str, length: int) -> bool:
    stripped = line.lstrip(" \t")
    run = len(stripped) - len(stripped.lstrip(char))
    return run >= length and stripped[run:].strip(" \t") == ""


def _trusted_fence_lines(lines: list[str]) -> list[bool]:
    """Per line: inside (or opening or closing) a fenced block every reading agrees on."""
    code = [False] * len(lines)
    index = 0
    while index < len(lines):
        fence = _fence_like(lines[index])
        if fence is None:
            index += 1
            continue
        char, length, rest, clean = fence
        if char == "$" and "$" in rest:
            index += 1  # `$$x$$` on one line: inline maths or text, never a block
            continue
        if not clean or (char == "`" and "`" in rest):
            break  # not a block we can be sure of: no fence is trusted from here on
        opener_indent = len(lines[index]) - len(lines[index].lstrip(" "))
        end = _fence_end(lines, index, char, length, opener_indent)
        if end is None:
            break
        if char != "$":  # a maths block is code only if Streamlit turns maths on: text
            for line_index in range(index, min(end, len(lines) - 1) + 1):
                code[line_index] = True
        index = end + 1
    return code


def _fence_end(lines: list[str], opener: int, char: str, length: int,
               opener_indent: int) -> int | None:
    """The closing line's index (len(lines) when the block runs to the end); None when a
    line inside could be read more than one way."""
    for index in range(opener + 1, len(lines)):
        line = lines[index]
        if not line.strip(" \t"):
            continue
        column, tabs = _indent(line)
        if column < opener_indent or (tabs and opener_indent > 0):
            return None  # a list item holding the block may end here
        if char == "$":
            inner = _fence_like(line)
            if inner is not None and inner[0] != "$":
                return None  # a code fence inside a maths block: two readings
        if _closes(line, char, length):
            if column <= 3:
                return index
            if column <= opener_indent + 3:
                return None  # a closer for some list nesting, content for another
    return len(lines)


# Inline level -------------------------------------------------------------------------------


def _escaped(line: str, position: int, floor: int) -> bool:
    """Whether an odd run of backslashes (not before `floor`) precedes `position`."""
    count = 0
    while position - count - 1 >= floor and line[position - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def _pair(line: str, start: int, end: int, runs_re: re.Pattern[str]) -> tuple[set, bool]:
    """Backtick code spans (start, end) in line[start:end] as micromark pairs them (and `$`
    maths when `runs_re` includes `$`), and whether a run was left open."""
    runs = [(m.start(), m.end()) for m in runs_re.finditer(line, start, end)]
    by_kind: dict[tuple[str, int], list[int]] = {}
    for position, (s, e) in enumerate(runs):
        by_kind.setdefault((line[s], e - s), []).append(position)
    spans: set[tuple[int, int]] = set()
    dangling = False
    floor = start
    position = 0
    while position < len(runs):
        s, e = runs[position]
        if s < floor:
            position += 1
            continue
        if _escaped(line, s, floor):
            s += 1
            if s == e:
                position += 1
                continue
        # an escaped run opens one shorter; a closer is a run of exactly the opener's length
        candidates = by_kind.get((line[s], e - s), [])
        later = bisect_right(candidates, position)
        closer = candidates[later] if later < len(candidates) else None
        if closer is None:
            dangling = True
            floor = e
            position += 1
            continue
        close_end = runs[closer][1]
        if line[s] == "`":
            spans.add((s, close_end))
        floor = close_end
        position = closer + 1
    return spans, dangling


def _cells(line: str) -> list[tuple[int, int]]:
    """A table row's cells: the line split at pipes not escaped by a backslash."""
    bounds, start = [], 0
    for found in re.finditer(r"\|", line):
        if not _escaped(line, found.start(), 0):
            bounds.append((start, found.start()))
            start = found.end()
    bounds.append((start, len(line)))
    return bounds


def _trusted_spans(line: str) -> tuple[list[tuple[int, int]], bool]:
    """The line's code spans every reading agrees on, and whether it leaves a run open."""
    if "`" not in line and "$" not in line:
        return [], False
    plain, open_plain = _pair(line, 0, len(line), _RUN_D)
    maths, open_maths = (_pair(line, 0, len(line), _RUN_E) if "$" in line
                         else (plain, open_plain))
    spans = plain & maths
    dangling = open_plain or open_maths
    for url in _URL_LITERAL.finditer(line):
        if not any(s < url.start() < e for s, e in spans):  # not inside code in every reading
            return [], True
    if spans and "|" in line:
        cell_spans: set[tuple[int, int]] = set()
        for start, end in _cells(line):
            by_plain = _pair(line, start, end, _RUN_D)[0]
            cell_spans |= (by_plain & _pair(line, start, end, _RUN_E)[0] if "$" in line
                           else by_plain)
        spans &= cell_spans
    return sorted(spans), dangling


def _sanitise_line(text: str, line_start: int, line: str, spans: list[tuple[int, int]]) -> str:
    """One text line: trusted code spans verbatim, the rest with constructs made inert."""
    if not _SPECIAL.search(line):
        return line
    prefix = _PREFIX.match(line)
    content_start = prefix.end() if prefix else 0
    task_ok = content_start > 0 and bool(_LIST_MARKER_END.search(line, 0, content_start))
    out: list[str] = []
    cursor = 0  # line[cursor:] is not copied yet
    segment_start = 0
    for segment_end, span_end in [*spans, (len(line), len(line))]:
        position = segment_start
        while True:
            found = _SPECIAL.search(line, position, segment_end)
            if not found:
                break
            at = found.start()
            char = line[at]
            position = at + 1
            if char == "\\":
                if at + 1 < segment_end and line[at + 1] in _ASCII_PUNCT:
                    position += 1  # an escaped character is never syntax
                continue
            if char == "!":
                insert = line.startswith("[", at + 1)
            elif char == "[":
                insert = at == content_start and not (task_ok and _TASK_BOX.match(line, at))
            elif char == "]":
                insert = line.startswith("(", at + 1) and not _resource_ok(
                    text, line_start + at + 1)
            elif char == "<":
                insert, position = _angle(line, at)
            else:  # ":"
                insert = bool(_DIRECTIVE.match(line, at)) or (
                    at == content_start and line.startswith("::", at))
            if insert:
                out.append(line[cursor:at])
                out.append("\\")
                cursor = at
        segment_start = span_end
    out.append(line[cursor:])
    return "".join(out)


def _angle(line: str, at: int) -> tuple[bool, int]:
    """For a `<`: whether to escape it, and where scanning goes on (past a kept autolink)."""
    if _TAG_LIKE.match(line, at):
        return True, at + 1
    uri = _URI_AUTOLINK.match(line, at)
    found = uri or _EMAIL_AUTOLINK.match(line, at)
    if not found:
        return False, at + 1
    allowed = uri is None or uri.group(1).lower() in ALLOWED_SCHEMES
    if allowed and not re.search(r"[`$]", found.group(0)):
        return False, found.end()
    return True, at + 1


def _resource_ok(text: str, paren: int) -> bool:
    """Whether `(destination "title")` at text[paren] is a valid link resource with a safe
    destination and no backtick or `$` in it; anything else is neutralised by the caller."""
    limit = min(len(text), paren + _LOOKAHEAD)
    i = _skip_space(text, paren + 1, limit)
    if i >= limit:
        return False
    if text[i] == "<":
        close = i + 1
        while close < limit and text[close] not in "<>\n":
            close += 2 if text[close] == "\\" else 1
        if close >= limit or text[close] != ">":
            return False
        pointy = text[i:close + 1]
        found = _URI_AUTOLINK.fullmatch(pointy)
        if not found or found.group(1).lower() not in ALLOWED_SCHEMES:
            return False
        destination, i = pointy[1:-1], close + 1
    else:
        start, depth = i, 0
        while i < limit:
            char = text[i]
            if char == "\\" and i + 1 < limit and text[i + 1] in _ASCII_PUNCT:
                i += 2
                continue
            if char <= " ":
                break
            if char == "(":
                depth += 1
                if depth > 32:
                    return False
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        if depth:
            return False
        destination = text[start:i]
    after = _skip_space(text, i, limit)
    if after < limit and text[after] in "\"'(" and after > i:
        closer = ")" if text[after] == "(" else text[after]
        j = after + 1
        while j < limit and text[j] != closer:
            if text[j] == "\\":
                j += 1
            elif text[j] == "(" and closer == ")":
                return False
            j += 1
        if j >= limit or _BLANK_LINE.search(text, after, j):
            return False  # unclosed, or a blank line (the paragraph's end) inside
        after = _skip_space(text, j + 1, limit)
    if after >= limit or text[after] != ")":
        return False
    if re.search(r"[`$]", text[paren:after]):
        return False
    return dest_is_safe(destination)


def _skip_space(text: str, i: int, limit: int) -> int:
    """Past spaces and tabs, with at most one line ending among them."""
    newline = False
    while i < limit:
        if text[i] in " \t":
            i += 1
        elif text[i] == "\n" and not newline:
            newline = True
            i += 1
        else:
            break
    return i
