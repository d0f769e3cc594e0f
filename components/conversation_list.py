"""The Conversations page's pieces: search, the list with its actions, import."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components import persistence
from components.notices import notice_text
from nexuschat import exports
from nexuschat.errors import Note
from nexuschat.i18n import current_language, format_datetime, speaking, t
from nexuschat.safe_text import plain_text
from nexuschat.store import ConversationSummary

CHAT_PAGE = "app_pages/chat.py"
CONFIRM_DELETE = "confirm_delete"  # str | None: the conversation a delete dialog is asking about
# (kind, [Notice, ...]) | None: the outcome of the last import. Worded when drawn: the
# import runs in a callback, before the run has chosen the user's language.
IMPORT_NOTICE = "import_notice"


def render_search() -> str:
    """The search box; returns the query."""
    return st.text_input(t("conversations.search"), key="conversation-search",
                         placeholder=t("conversations.search_placeholder"),
                         icon=":material/search:").strip()


def _open(conversation_id: str) -> None:
    persistence.open_conversation(conversation_id)


def _rename(conversation_id: str, widget_key: str) -> None:
    title = (st.session_state.get(widget_key) or "").strip()
    if title:
        persistence.store().update_settings(persistence.owner(), conversation_id, title=title)


def _exporter(kind: str, conversation_id: str) -> Callable[[], bytes]:
    # Made when the button is drawn: Streamlit calls it later, on a click, outside this
    # session's script run, where the session's owner and language cannot be read.
    store, owner, language = persistence.store(), persistence.owner(), current_language()

    def export() -> bytes:
        if kind == "json":
            tree = store.load_tree(owner, conversation_id)
            return exports.to_json(tree) if tree else b""
        conversation = store.load(owner, conversation_id)
        with speaking(language):  # the Markdown's headings and notes in the user's language
            return exports.to_markdown_zip(conversation) if conversation else b""

    return export


def _dismiss_delete() -> None:
    st.session_state[CONFIRM_DELETE] = None


@st.dialog(" ", on_dismiss=_dismiss_delete)
def _confirm_delete(summary: ConversationSummary) -> None:
    title = plain_text(summary.title) if summary.title else t("conversations.untitled")
    st.markdown(t("conversations.delete_confirm", title=title))
    left, right = st.columns(2)
    if left.button(t("conversations.delete"), type="primary", key="delete-confirmed"):
        st.session_state[CONFIRM_DELETE] = None
        persistence.store().delete(persistence.owner(), summary.id)
        if persistence.is_open(summary.id):
            persistence.start_new()
        st.rerun()
    if right.button(t("branch.cancel"), key="delete-cancelled"):
        st.session_state[CONFIRM_DELETE] = None
        st.rerun()


def _ask_delete(conversation_id: str) -> None:
    st.session_state[CONFIRM_DELETE] = conversation_id


def render_list(summaries: list[ConversationSummary], query: str) -> None:
    """Newest first; each with open, rename, export and delete."""
    if not summaries:
        st.caption(t("conversations.none_found" if query else "conversations.none"))
        return
    for summary in summaries:
        with st.container(border=True, key=f"conversation-{summary.id}"):
            title = plain_text(summary.title) if summary.title else t("conversations.untitled")
            main, actions = st.columns([5, 3], vertical_alignment="center")
            with main:
                if st.button(title, key=f"open-{summary.id}", type="tertiary",
                             on_click=_open, args=(summary.id,)):
                    st.switch_page(CHAT_PAGE)
                st.caption(t("conversations.meta", updated=format_datetime(summary.updated_at),
                             count=summary.message_count))
                if query and summary.snippet:
                    st.caption(plain_text(summary.snippet))
            with actions:
                render_actions(summary)


def render_actions(summary: ConversationSummary) -> None:
    """Rename, export (JSON, Markdown zip) and delete for one conversation."""
    rename, export, delete = st.columns(3)
    with rename.popover("", icon=":material/edit:", help=t("conversations.rename")):
        key = f"rename-text-{summary.id}"
        st.text_input(t("conversations.rename"), value=summary.title, key=key)
        st.button(t("conversations.rename_save"), key=f"rename-{summary.id}",
                  on_click=_rename, args=(summary.id, key))
    with export.popover("", icon=":material/download:", help=t("conversations.export")):
        name = summary.title or "conversation"
        st.download_button(t("conversations.export_json"), key=f"json-{summary.id}",
                           data=_exporter("json", summary.id),
                           file_name=exports.safe_filename(name, "json", summary.updated_at),
                           mime="application/json", on_click="ignore")
        st.download_button(t("conversations.export_markdown"), key=f"md-{summary.id}",
                           data=_exporter("markdown", summary.id),
                           file_name=exports.safe_filename(name, "zip", summary.updated_at),
                           mime="application/zip", on_click="ignore")
    delete.button("", icon=":material/delete:", key=f"delete-{summary.id}",
                  help=t("conversations.delete"), on_click=_ask_delete, args=(summary.id,))
    if st.session_state.get(CONFIRM_DELETE) == summary.id:
        _confirm_delete(summary)


def _import(widget_key: str) -> None:
    upload = st.session_state.get(widget_key)
    if upload is None:
        return
    try:
        tree, notes = exports.read_any(upload.getvalue())
    except exports.ImportProblem as problem:
        st.session_state[IMPORT_NOTICE] = ("error", [problem])
        return
    conversation_id = persistence.store().create_from_tree(persistence.owner(), tree)
    persistence.open_conversation(conversation_id)
    imported = Note("conversations.imported", {"title": tree.conversation.title or ""})
    st.session_state[IMPORT_NOTICE] = ("success", [imported, *notes])


def render_import() -> None:
    """Import a NexusChat JSON export or a plain OpenAI `messages` array."""
    with st.expander(t("conversations.import"), icon=":material/upload:"):
        st.file_uploader(t("conversations.import_help"), type=["json"], key="import-file",
                         on_change=_import, args=("import-file",))
    notice = st.session_state.pop(IMPORT_NOTICE, None)
    if notice:
        kind, (outcome, *notes) = notice
        # Titles, URLs, part types and file names all come from the imported file.
        text = notice_text(outcome)
        if notes:
            text += "\n\n" + "\n".join(f"- {notice_text(note)}" for note in notes)
        (st.success if kind == "success" else st.error)(text)
