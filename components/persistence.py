"""The bridge to the store: whose conversations these are, and writing each change through."""

from __future__ import annotations

import logging
from dataclasses import replace

import streamlit as st

from components import identity, state
from nexuschat.conversation import Conversation, Message
from nexuschat.errors import Problem
from nexuschat.identity import old_link_owner
from nexuschat.store import Store, StoreBusy, StoreError, retry_busy
from nexuschat.user_tools import UserTool

_LOG = logging.getLogger("nexuschat.store")
STORED_ID = "stored_conversation_id"  # str | None: the open conversation exists in the store
ACCOUNT_SEEN = "account_seen"  # str | None: the owner whose login name was stored this session


@st.cache_resource(show_spinner=False)
def _open_store(url: str | None) -> Store:
    # One engine for all sessions; the Store keeps no per-user state and is never mutated.
    return Store.open(url)


def database_url() -> str | None:
    """NEXUSCHAT_DATABASE_URL from secrets, then the environment; None: the local SQLite file."""
    return state.setting("NEXUSCHAT_DATABASE_URL") or None


def store() -> Store:
    """The shared store."""
    return _open_store(database_url())


def owner() -> str:
    """Whose conversations these are: a login, "local", or this browser's visitor."""
    return identity.owner()


def adopt_old_link() -> int:
    """An old link's `?u=` token, once: its conversations move to this login or browser
    (then the token owns nothing) and `u` leaves the address; how many moved.

    Without a lasting owner (no cookie) nothing moves: they would be lost with this visit.
    """
    token = st.query_params.get("u")
    if token is None:
        return 0
    del st.query_params["u"]
    previous = old_link_owner(token)
    if previous is None or identity.is_local() or not identity.owner_lasts():
        return 0
    return store().adopt(owner(), previous)


def _ensure_stored(conversation: Conversation) -> None:
    if st.session_state.get(STORED_ID) == conversation.id:
        return
    store().create(owner(), replace(conversation, messages=(), siblings={}))
    st.session_state[STORED_ID] = conversation.id
    st.query_params["c"] = conversation.id


def add_message(conversation: Conversation, message: Message, *,
                with_settings: bool = False) -> None:
    """Commit a new message (and the conversation, the first time) before anything else runs;
    `with_settings`: the conversation's model, system prompt and parameters too."""
    _ensure_stored(conversation)
    settings = ({"system_prompt": conversation.system_prompt, "model": conversation.model,
                 "params": dict(conversation.params)} if with_settings else {})
    retry_busy(lambda: store().add_message(owner(), conversation.id, message, **settings))


def save_message(conversation: Conversation, message: Message, *,
                 best_effort: bool = False) -> bool:
    """Overwrite a stored message (a reply while it streams, then its final form); whether
    it was written.

    A best-effort save (the periodic one while streaming) never waits for another writer: it
    is skipped when the database is busy, and the caller tries again soon (the final save
    waits). Waiting here held up painting: twenty sessions saving in the same second queued
    for SQLite's lock for up to 0.7 s (bench/load.py). Other saves retry briefly.
    """
    if best_effort:
        try:
            store().save_message(owner(), conversation.id, message, wait=False)
        except StoreError as exc:  # the final save says what is wrong, if it still is
            if not isinstance(exc, StoreBusy):
                report(exc)
            return False
        return True
    retry_busy(lambda: store().save_message(owner(), conversation.id, message))
    return True


def open_conversation(conversation_id: str, leaf_id: str | None = None, *,
                      apply_settings: bool = True) -> bool:
    """Show a stored conversation (at a given leaf); False when this owner has no such one."""
    loaded = store().load(owner(), conversation_id, leaf_id)
    if loaded is None:
        return False
    if leaf_id:
        store().set_leaf(owner(), conversation_id, leaf_id)
    state.set_conversation(loaded)
    if apply_settings:
        state.apply_conversation_settings(loaded)
    st.session_state[STORED_ID] = loaded.id
    st.query_params["c"] = loaded.id
    return True


def reload_view() -> None:
    """Re-read the open conversation's shown branch (after a new sibling or a switch)."""
    current = state.conversation()
    if st.session_state.get(STORED_ID) == current.id:
        open_conversation(current.id, apply_settings=False)


def refresh_siblings(conversation: Conversation) -> Conversation:
    """The conversation with its last message's versions re-read (after a reply is stored:
    a regenerated reply has new siblings); the rest of the view cannot have changed."""
    last = conversation.last
    if last is None or st.session_state.get(STORED_ID) != conversation.id:
        return conversation
    group = store().siblings(owner(), conversation.id, last.id)
    siblings = {k: v for k, v in conversation.siblings.items() if k != last.id}
    if group:
        siblings[last.id] = group
    return replace(conversation, siblings=siblings)


def start_new() -> None:
    """An empty conversation; it reaches the store with its first message."""
    state.set_conversation(Conversation())
    st.session_state[STORED_ID] = None
    st.session_state[state.DRAFT] = None
    st.session_state[state.PENDING] = None
    st.query_params.pop("c", None)


def follow_url() -> str | None:
    """Open the conversation named by ?c= when it is not the one shown; an error key if absent."""
    requested = st.query_params.get("c")
    current = state.conversation()
    if requested and requested != current.id:
        if not open_conversation(requested):
            st.query_params.pop("c", None)
            return "conversations.not_found"
    elif not requested and st.session_state.get(STORED_ID) == current.id:
        st.query_params["c"] = current.id  # page switches drop it; keep reloads on this chat
    return None


def is_open(conversation_id: str) -> bool:
    """Whether that conversation is the one on screen."""
    return state.conversation().id == conversation_id


def remember_account() -> None:
    """The router's step: a signed-in owner's login name and email into the store, once per
    session (the deploy's admins read usage by name). A store failure waits for next time."""
    known = identity.login_owner()
    if not known or st.session_state.get(ACCOUNT_SEEN) == known:
        return
    who = identity.user()
    try:
        store().remember_account(known, str(who.get("name") or ""), str(who.get("email") or ""))
    except StoreError as exc:
        report(exc)
        return
    st.session_state[ACCOUNT_SEEN] = known


def load_user_tools() -> str | None:
    """The router's step: the owner's own tools into `state.USER_TOOLS`, once per owner per
    session; an error key when the store could not read them (tried again next run)."""
    if st.session_state.get(state.USER_TOOLS_OWNER) == owner():
        return None
    return refresh_user_tools()


def refresh_user_tools() -> str | None:
    """Re-read the owner's own tools into `state.USER_TOOLS`; an error key if that failed."""
    try:
        tools = tuple(store().list_tools(owner()))
    except StoreError as exc:
        st.session_state[state.USER_TOOLS_OWNER] = None  # read again on the next run
        return failure_key(report(exc))
    st.session_state[state.USER_TOOLS] = tools
    st.session_state[state.USER_TOOLS_OWNER] = owner()
    return None


def save_user_tool(tool: UserTool, old_name: str | None) -> Problem | None:
    """Write a checked tool through the store (replacing `old_name`'s, when editing one), then
    re-read the list; None, or why the store refused it (name taken, the limit)."""
    refused = retry_busy(lambda: store().save_tool(owner(), tool, old_name=old_name))
    if refused is None:
        refresh_user_tools()
    return refused


def delete_user_tool(name: str) -> bool:
    """Delete one of the owner's tools in the store, then re-read the list; whether it was."""
    deleted = retry_busy(lambda: store().delete_tool(owner(), name))
    refresh_user_tools()
    return deleted


def report(failure: StoreError) -> str:
    """Log a store failure for the deployer (a busy one is routine: not logged); its reason."""
    if not isinstance(failure, StoreBusy):
        _LOG.warning("the store could not save (%s): %s", failure.reason, failure)
    return failure.reason


_FAILURE_TEXTS = {"busy": "store.busy", "unreachable": "store.failed.unreachable",
                  "full": "store.failed.full", "read_only": "store.failed.read_only",
                  "schema": "store.failed.schema", "unexpected": "store.failed.unexpected"}


def failure_key(reason: str) -> str:
    """The i18n key that tells the user about a store failure of this reason."""
    return _FAILURE_TEXTS.get(reason, "store.failed.unexpected")
