"""Benchmark what a repaint does to the reply's text; run as `python -m bench.safe_text`.

`markdown_content` runs on every repaint of a streaming reply (at most 25 a second, over the
whole text so far), so its cost is measured on a 20,000-character reply of ordinary chat
Markdown (paragraphs, lists, inline code, links, a table, fenced code), against baselines in
the same run: five `str.replace` passes over the same text (what a naive escaper costs) and one
`re.sub` over it. Linearity: the same text doubled and quadrupled, and a hostile text (every
character a backtick, bracket or `<`) of the same sizes.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys

from bench.harness import DOC, machine, median_ms, repaint_interval_s, write_section
from nexuschat.rich_text import page_markdown
from nexuschat.safe_text import markdown_content, plain_text

SECTION = "## Sanitising rendered content"
REPLY_CHARS = 20_000
REPEAT = 41
GOAL_MS = 10.0  # per repaint of a 20,000-character reply: 25 repaints cost under a quarter second
GOAL_GROWTH = 2.6  # 4× the text may cost at most this × (2×) twice: linear, not quadratic

BLOCK = """## Step {n}: set up the service

Install the package with `pip install nexus-{n}` and read [the guide](https://docs.example/{n}).
Then *configure* it: the file `config.toml` holds **every** setting, and `$HOME` is used.

- First, check `python --version` prints 3.11 or later.
- Second, run `make test` (see <https://ci.example/{n}>).
- Third: `a < b` holds, so `x[0]` is fine.

| option | default | meaning |
| --- | --- | --- |
| `timeout` | 30 | seconds before giving up |
| `retries` | 3 | attempts |

```python
def handler_{n}(request):
    # returns <html> for the browser
    return render("![logo](https://cdn.example/logo.png)", status=200)
```

"""


def reply(chars: int) -> str:
    """Ordinary chat Markdown of about `chars` characters."""
    parts, n = [], 0
    while sum(map(len, parts)) < chars:
        parts.append(BLOCK.format(n=n))
        n += 1
    return "".join(parts)[:chars]


def hostile(chars: int) -> str:
    """Text made of the characters the scanner stops at."""
    unit = "`` [a](b) <x> ![c] $d$ | \\` :e[ "
    return (unit * (chars // len(unit) + 1))[:chars]


def five_replaces(text: str) -> str:
    for a, b in (("\\", "\\\\"), ("<", "\\<"), ("[", "\\["), ("!", "\\!"), ("`", "\\`")):
        text = text.replace(a, b)
    return text


_ONE_SUB = re.compile(r"[\\`*_\[\]<>!$]")


def main() -> int:
    load = os.getloadavg()[0]
    text = reply(REPLY_CHARS)
    assert markdown_content(text) == text  # ordinary Markdown passes through unchanged
    # The same reply as a Chinese model writes maths: \( \) and \[ \], and prices.
    maths = text.replace("Then *configure*", "Then \\(a^2 + b^2 = c^2\\) costs $5 *configure*")
    t = median_ms({
        "ours": lambda: markdown_content(text),
        "replace": lambda: five_replaces(text),
        "sub": lambda: _ONE_SUB.sub(r"\\\g<0>", text),
        "plain": lambda: plain_text(text, one_line=False),
        "page": lambda: page_markdown(text),
        "page_maths": lambda: page_markdown(maths),
    }, repeat=REPEAT)
    sizes = {}
    for label, make in (("ordinary", reply), ("hostile", hostile)):
        texts = {n: make(n) for n in (REPLY_CHARS, 2 * REPLY_CHARS, 4 * REPLY_CHARS)}
        sizes[label] = median_ms({n: (lambda s=s: markdown_content(s))
                                  for n, s in texts.items()}, repeat=15)
    # What a repaint runs is page_markdown: % of one core at 25 repaints/s, and the goal.
    per_second = t["page_maths"] / repaint_interval_s() / 1000 * 100
    growth = {k: v[4 * REPLY_CHARS] / v[2 * REPLY_CHARS] for k, v in sizes.items()}
    ok = t["page_maths"] <= GOAL_MS and all(g <= GOAL_GROWTH for g in growth.values())
    verdict = "met" if ok else "NOT met"
    table = [
        f"| {REPLY_CHARS:,}-character reply (same run, interleaved) | ms | × baseline |",
        "| --- | ---: | ---: |",
        f"| five `str.replace` passes (naive escaping), the baseline | {t['replace']:.2f} | 1.00 |",
        f"| one `re.sub` over the text | {t['sub']:.2f} | {t['sub'] / t['replace']:.2f} |",
        f"| ours: `markdown_content` | {t['ours']:.2f} | {t['ours'] / t['replace']:.2f} |",
        f"| ours: `plain_text(one_line=False)` | {t['plain']:.2f} | "
        f"{t['plain'] / t['replace']:.2f} |",
        f"| ours: `page_markdown` (LaTeX delimiters, then `markdown_content`) | {t['page']:.2f} "
        f"| {t['page'] / t['replace']:.2f} |",
        f"| ours: `page_markdown`, the reply with `\\( \\)` maths and prices | "
        f"{t['page_maths']:.2f} | {t['page_maths'] / t['replace']:.2f} |",
        "",
        "| `markdown_content` ms | 20,000 chars | 40,000 | 80,000 | 80k / 40k |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {k} text | {v[REPLY_CHARS]:.2f} | {v[2 * REPLY_CHARS]:.2f} | "
          f"{v[4 * REPLY_CHARS]:.2f} | {growth[k]:.2f} |" for k, v in sizes.items()),
    ]
    print("\n".join(table))
    print(f"\nat 25 repaints/s: {per_second:.1f}% of one core; goals {verdict}")
    load = max(load, os.getloadavg()[0])
    write_section(SECTION, report(table, verdict, load, per_second))
    print(f"wrote the {SECTION!r} section of {DOC}")
    return 0 if ok else 1


def report(table: list[str], verdict: str, load: float, per_second: float) -> str:
    """The docs section: conditions, the tables, the goals and how to reproduce."""
    return "\n".join([
        SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()}, Python "
        f"{platform.python_version()}; 1-minute load average up to {load:.1f} from other work "
        f"during the run. Medians of {REPEAT} interleaved runs after a warm-up (15 for the "
        "size table). The reply is ordinary chat Markdown (headings, inline code, links, "
        "an autolink, a list, a table, a fenced block with HTML and an image inside), which "
        "`markdown_content` returns unchanged; the hostile text is made only of the characters "
        "the scanner stops at (backticks, brackets, `<`, `$`, `|`, `:`).",
        "",
        *table,
        "",
        "A repaint runs `page_markdown` (nexuschat/rich_text.py: `\\( \\)` and `\\[ \\]` "
        "made `$` and `$$`, prices' `$` escaped, then `markdown_content`). Repainting a "
        f"{REPLY_CHARS:,}-character reply with maths in it 25 times a second costs "
        f"{per_second:.1f}% of one core. Goals: at most {GOAL_MS:.0f} ms per "
        f"repaint of {REPLY_CHARS:,} characters, and linear growth (80k / 40k at most "
        f"{GOAL_GROWTH}): **{verdict}**.",
        "",
        "Reproduce from the repository root: `.venv/bin/python -m bench.safe_text` (a few "
        "seconds; it rewrites this section and exits non-zero if a goal is missed).",
    ]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
