"""Settings: language, generation parameters, image quality, and model capabilities."""

import streamlit as st

from components import settings_form, state
from nexuschat.i18n import t

st.title(t("settings.title"))
settings_form.render_language()
st.divider()
settings_form.render_generation()
st.divider()
settings_form.render_images()
st.divider()
settings_form.render_capabilities(st.session_state.get(state.OFFERED_MODELS, []))
