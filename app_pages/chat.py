"""Chat: the conversation, the composer, and the live reply."""

import streamlit as st

from components import clipboard, composer, history, local_provider, notices, spend, state, tool_box
from nexuschat.candidates import request_params, requested
from nexuschat.conversation import has_images
from nexuschat.i18n import t
from nexuschat.models import request_notes

settings = local_provider.connect_or_explain(state.resolved_settings())
params = state.current_params()
overrides = st.session_state[state.OVERRIDES]
models = st.session_state.get(state.OFFERED_MODELS) or [settings.model]
caps = state.model_capabilities(settings)
sees_images = caps.vision

if settings.needs_key:
    st.info(t("chat.no_key_hosted" if settings.mode == "hosted" else "chat.no_key"),
            icon=":material/key:")
elif notice := settings.url_notice:
    notices.render_notice(notice, icon=":material/block:")

draft = composer.read_chat_input(disabled=not settings.can_send,
                                 preset=st.session_state["w_preset"])
if draft is not None:
    composer.submit(draft, settings.model, params, overrides)

conversation = state.conversation()
pending = history.take_pending()
history.render_history(conversation, model=settings.model, pending=pending,
                       show_empty_hint=not settings.needs_key)

if held := st.session_state[state.DRAFT]:
    composer.render_draft(held, model=settings.model, models=models, params=params,
                          overrides=overrides)
composer.render_request_notes(request_notes(
    settings.model, caps, images=has_images(conversation),
    tools=bool(st.session_state[state.TOOLS_ON]), choices=requested(params),
    max_tokens=params.max_tokens))

if turn := history.turn_to_run(pending, conversation):
    history.run_turn(turn, settings, request_params(params, caps.multiple_choices, turn),
                     vision=sees_images, thinking=caps.thinking,
                     tools=tool_box.offered_tools(settings.model, overrides),
                     max_rounds=state.tool_settings().max_rounds)
spend.render_estimate(state.conversation(), settings, caps)  # the next request, before sending
clipboard.copy_buttons(history.shown(state.conversation()))  # last: after the turn's reply
