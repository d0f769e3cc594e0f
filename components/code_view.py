"""Copy as code: a reply's request as a Python snippet and a cURL command (nexuschat.snippets
builds them), in a dialog opened from the reply's action row."""

from __future__ import annotations

import streamlit as st

from nexuschat.conversation import Conversation, Message
from nexuschat.i18n import t
from nexuschat.snippets import (
    KEY_VARIABLE,
    Request,
    curl_command,
    has_images,
    python_snippet,
    rebuild,
)


def has_request(message: Message) -> bool:
    """Whether this reply kept what rebuilding its request needs."""
    return bool(message.role == "assistant" and message.meta and message.meta.request)


def render_button(message: Message, conversation: Conversation) -> None:
    """The reply's "Copy as code" control; a click opens the dialog (built only then: the
    request carries every image as base64)."""
    if not has_request(message):
        return
    if st.button("", icon=":material/code:", key=f"code-{message.id}", type="tertiary",
                 help=t("code.open")):
        at = next((i for i, m in enumerate(conversation.messages) if m.id == message.id), None)
        if at is None:
            return
        request = rebuild(conversation.messages[:at], message)
        if request is not None:
            st.dialog(t("code.title"), width="large")(_render_dialog)(request, message.id)


def _render_dialog(request: Request, message_id: str) -> None:
    st.caption(t("code.key_note", variable=KEY_VARIABLE))
    if has_images(request.body):
        st.caption(t("code.images_shortened"))
    python, curl = st.tabs([t("code.python"), t("code.curl")])
    with python:
        st.code(python_snippet(request, short=True), language="python")
        st.download_button(t("code.download", file="request.py"), python_snippet(request),
                           file_name="request.py", mime="text/x-python", on_click="ignore",
                           key=f"code-py-{message_id}", icon=":material/download:")
    with curl:
        st.code(curl_command(request, short=True), language="bash")
        st.download_button(t("code.download", file="request.sh"), curl_command(request),
                           file_name="request.sh", mime="text/x-shellscript",
                           on_click="ignore", key=f"code-sh-{message_id}",
                           icon=":material/download:")
