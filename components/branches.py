"""Branch controls: edit a question, regenerate a reply, and move between siblings (< 2/3 >)."""

from __future__ import annotations

import streamlit as st

from components import persistence, quota, state
from components.composer import commit_user_message
from components.notices import render_notice
from nexuschat.conversation import Conversation, Message
from nexuschat.i18n import t
from nexuschat.tree import edit_view, regenerate_view

EDITING = "editing_message"  # str | None: the id of the user message being edited


def _show_sibling(message_id: str) -> None:
    conversation = state.conversation()
    leaf = persistence.store().latest_leaf_under(persistence.owner(), conversation.id, message_id)
    persistence.open_conversation(conversation.id, leaf, apply_settings=False)


def regenerate(message_id: str) -> None:
    """Answer the reply `message_id` again: the new reply (or candidates) becomes its sibling."""
    view = regenerate_view(state.conversation(), message_id)
    state.set_conversation(view)
    if view.last is not None:
        persistence.store().set_leaf(persistence.owner(), view.id, view.last.id)
    st.session_state[state.PENDING] = "reply"  # the new reply is a sibling of the old one


def _start_edit(message_id: str) -> None:
    st.session_state[EDITING] = message_id


def _cancel_edit() -> None:
    st.session_state[EDITING] = None


def _send_edit(message_id: str, widget_key: str) -> None:
    text = (st.session_state.get(widget_key) or "").strip()
    base, edited = edit_view(state.conversation(), message_id, text)
    if quota.message_limit(text, len(edited.images), 0) is not None:
        return  # the editor stays open with the text, saying which limit (render_editor)
    st.session_state[EDITING] = None
    if not text and not edited.images:
        return
    commit_user_message(base, edited)
    persistence.reload_view()  # the edit is a sibling of the original: show < n/n >


def render_sibling_nav(conversation: Conversation, message: Message) -> None:
    """`< 2/3 >` beside a message that has siblings (in the bubble's action row)."""
    siblings = conversation.siblings.get(message.id)
    if not siblings or len(siblings) < 2:
        return
    position = siblings.index(message.id)
    st.button("", icon=":material/chevron_left:", key=f"prev-{message.id}", type="tertiary",
              disabled=position == 0, help=t("branch.previous"),
              on_click=_show_sibling, args=(siblings[max(position - 1, 0)],))
    st.caption(t("branch.position", index=position + 1, total=len(siblings)), width="content")
    st.button("", icon=":material/chevron_right:", key=f"next-{message.id}", type="tertiary",
              disabled=position == len(siblings) - 1, help=t("branch.next"),
              on_click=_show_sibling, args=(siblings[min(position + 1, len(siblings) - 1)],))


def render_message_actions(message: Message) -> None:
    """Edit for questions, Regenerate for replies."""
    if message.role == "user":
        st.button("", icon=":material/edit:", key=f"edit-{message.id}", help=t("branch.edit"),
                  type="tertiary", on_click=_start_edit, args=(message.id,))
    elif message.role == "assistant":
        st.button("", icon=":material/autorenew:", key=f"regenerate-{message.id}",
                  type="tertiary", help=t("branch.regenerate"), on_click=regenerate,
                  args=(message.id,))


def render_editor(message: Message) -> None:
    """The inline editor for a question; sending it starts a new branch."""
    key = f"edit-text-{message.id}"
    st.text_area(t("branch.edit_label"), value=message.content, key=key)
    text = (st.session_state.get(key) or "").strip()
    if hit := quota.message_limit(text, len(message.images), 0):
        render_notice(hit, kind="warning", icon=":material/speed:")
    with st.container(horizontal=True, gap="small"):
        st.button(t("branch.send_edit"), key=f"send-edit-{message.id}", type="primary",
                  on_click=_send_edit, args=(message.id, key))
        st.button(t("branch.cancel"), key=f"cancel-edit-{message.id}", on_click=_cancel_edit)
