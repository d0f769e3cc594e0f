"""Chat: the conversation, the composer, and the live reply."""

import streamlit as st

from components import branches, composer, live_reply, state
from components.messages import render_message, render_show_earlier
from nexuschat.conversation import has_images
from nexuschat.i18n import t
from nexuschat.models import capabilities
from nexuschat.turns import retry_kind

settings = state.current_settings()
params = state.current_params()
overrides = st.session_state[state.OVERRIDES]
models = st.session_state.get(state.OFFERED_MODELS) or [settings.model]
needs_key = settings.needs_key

if needs_key:
    st.info(t("chat.no_key"), icon=":material/key:")

draft = composer.read_chat_input(disabled=needs_key, preset=st.session_state["w_preset"])
if draft is not None:
    composer.submit(draft, settings.model, params, overrides)

conversation = state.conversation()
pending = st.session_state[state.PENDING]
st.session_state[state.PENDING] = None

shown = conversation.messages
if pending == "retry" and conversation.last and conversation.last.status == "error":
    shown = shown[:-1]  # the failed reply is about to be replaced by the retry
if not shown and not needs_key:
    st.caption(t("chat.empty"))
hidden = max(0, len(shown) - st.session_state[state.HISTORY_WINDOW])
render_show_earlier(hidden)
editing = st.session_state.get(branches.EDITING)
for index, message in enumerate(shown[hidden:], start=hidden):
    render_message(
        message,
        model=settings.model,
        is_last=index == len(shown) - 1 and pending is None,
        on_retry=live_reply.request_retry,
        on_continue=live_reply.request_continue,
        editor=(lambda m=message: branches.render_editor(m)) if message.id == editing else None,
        after=lambda m=message: (branches.render_sibling_nav(conversation, m),
                                 branches.render_message_actions(m, busy=pending is not None)),
    )

if held := st.session_state[state.DRAFT]:
    composer.render_draft(held, model=settings.model, models=models, params=params,
                          overrides=overrides)

if pending == "retry":
    last = conversation.last
    live_reply.wait_for_retry_after(last.meta.error_params.get("retry_not_before")
                                    if last and last.meta else None)
    pending = retry_kind(conversation)
sees_images = capabilities(settings.model, overrides).vision
if has_images(conversation) and not sees_images:
    st.caption(t("chat.images_not_sent", model=settings.model))
if pending:
    live_reply.run_turn(pending, settings, params, vision=sees_images)
