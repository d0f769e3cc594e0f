"""What Streamlit's own styles lack for a chat: wide tables scroll inside their bubble, and each
bubble's copy control (components/clipboard.py) sits in its corner. Constant CSS, mounted once
per run by the router."""

from __future__ import annotations

import streamlit as st

# Trusted, constant CSS; nothing from a user or a model ever reaches it. `isolate_styles=False`
# puts it in the page itself, so it reaches Streamlit's own elements.
_CSS = """
[data-testid="stChatMessage"] { position: relative; }
[data-testid="stChatMessage"] [data-testid="stMarkdownContainer"] table {
  display: block; max-width: 100%; overflow-x: auto;
}
[data-testid="stChatMessage"] > .nexuschat-copy {
  position: absolute; right: 0.5rem; bottom: 0.5rem; line-height: 0; padding: 0.3rem;
  border: none; border-radius: 0.4rem; background: none; color: inherit; opacity: 0.55;
  cursor: pointer;
}
[data-testid="stChatMessage"] > .nexuschat-copy:hover,
[data-testid="stChatMessage"] > .nexuschat-copy:focus-visible {
  opacity: 1; background: rgba(128, 128, 128, 0.15);
}
"""

_STYLE = st.components.v2.component("nexuschat_page_style", css=_CSS, isolate_styles=False)


def apply() -> None:
    """Add the page's styles (an element of no size)."""
    _STYLE(key="page-style")
