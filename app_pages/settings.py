"""Settings: language, generation parameters, image quality, model capabilities, my tools."""

import streamlit as st

from components import settings_form, state, tool_editor
from nexuschat.i18n import t

st.title(t("settings.title"))
settings_form.render_language()
st.divider()
settings_form.render_generation()
st.divider()
settings_form.render_images()
st.divider()
settings_form.render_capabilities(st.session_state.get(state.OFFERED_MODELS, []))
st.divider()
tool_editor.render_my_tools()
