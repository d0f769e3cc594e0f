"""A one-click copy of each message's raw Markdown (code blocks keep Streamlit's own copy button).

One component for the whole page, not one per message: a component costs the script about
0.2 ms a call, which at 40 bubbles per run doubled a rerun (bench/history.py). It receives the
shown messages' texts and puts a small button in each bubble (found by the bubble's own
edit / regenerate control, whose key carries the message id), again whenever Streamlit redraws
a bubble.
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from nexuschat.conversation import Message
from nexuschat.i18n import t

# Trusted, constant code. The texts arrive as data and only ever go to the clipboard (never
# into the page); message ids are hex, from the store. Styles: components/page_style.py.
_JS = """
const ICON = '<svg width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor"'
  + ' stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">';
const COPY = ICON + '<rect x="9" y="9" width="12" height="12" rx="2"/>'
  + '<path d="M5 15V5a2 2 0 0 1 2-2h10"/></svg>';
const DONE = ICON + '<path d="M5 12l5 5L20 7"/></svg>';
let latest = { texts: {}, label: "", copied: "" };

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {
    // No clipboard API (a plain-http deploy): the older way, through a hidden text area.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

function place() {
  for (const id of Object.keys(latest.texts)) {
    if (!/^[0-9a-f]+$/.test(id)) continue;
    const anchor = document.querySelector(`.st-key-edit-${id}, .st-key-regenerate-${id}`);
    const bubble = anchor && anchor.closest('[data-testid="stChatMessage"]');
    if (!bubble || bubble.querySelector(":scope > .nexuschat-copy")) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "nexuschat-copy";
    button.dataset.message = id;
    button.innerHTML = COPY;
    button.title = latest.label;
    button.setAttribute("aria-label", latest.label);
    button.onclick = async () => {
      await copy(latest.texts[id] || "");
      button.innerHTML = DONE;
      button.title = latest.copied;
      setTimeout(() => { button.innerHTML = COPY; button.title = latest.label; }, 1500);
    };
    bubble.appendChild(button);
  }
}

export default function (component) {
  latest = component.data;
  place();
  let queued = false;
  const observer = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; place(); });
  });
  observer.observe(document.body, { childList: true, subtree: true });
  return () => observer.disconnect();
}
"""

_COPY = st.components.v2.component("nexuschat_copy", js=_JS)


def copy_buttons(messages: Iterable[Message]) -> None:
    """Copy controls for these bubbles (once per page run, after the last bubble is drawn)."""
    texts = {m.id: m.content for m in messages if m.content}
    _COPY(data={"texts": texts, "label": t("chat.copy"), "copied": t("chat.copied")},
          key="copy-buttons")
