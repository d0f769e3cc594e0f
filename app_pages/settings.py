"""Settings: language, generation parameters, image quality, model capabilities, my tools."""

import streamlit as st

from components import settings_form, state, tool_box, tool_editor
from nexuschat.i18n import t

st.title(t("settings.title"))
settings_form.render_language()
st.divider()
settings_form.render_generation()
st.divider()
model = state.resolved_settings().model
settings_form.render_tool_choice(
    tool_box.offered_tools(model, st.session_state[state.OVERRIDES]).names)
st.divider()
settings_form.render_images()
st.divider()
settings_form.render_capabilities(st.session_state.get(state.OFFERED_MODELS, []))
st.divider()
tool_editor.render_my_tools()
