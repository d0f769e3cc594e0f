"""What every benchmark shares: the machine line, and writing its own PERFORMANCE.md section."""

from __future__ import annotations

import ast
import contextlib
import os
import platform
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"


def machine() -> str:
    """CPU count and model, as shown in each section's first line."""
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found[1].strip() if found else cpu
    return f"`nproc` {len(os.sched_getaffinity(0))}, {cpu}"


def write_section(section: str, text: str) -> None:
    """Replace (or add) one `## ` section of docs/PERFORMANCE.md, leaving the others alone."""
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    text = text.rstrip("\n") + "\n\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text, doc, count=1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    # a blank line above the heading, whatever the section before it ends with
    doc = re.sub(rf"(?<=[^\n])\n(?={re.escape(section)}\n)", "\n\n", doc)
    DOC.write_text(doc.rstrip("\n") + "\n")


def repaint_interval_s() -> float:
    """The app's repaint clock, read from its source (importing it would need a runtime)."""
    tree = ast.parse((DOC.parents[1] / "components" / "live_reply.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "REPAINT_INTERVAL_S" for t in node.targets):
            return float(ast.literal_eval(node.value))
    raise RuntimeError("REPAINT_INTERVAL_S not found in components/live_reply.py")
