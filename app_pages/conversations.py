"""Conversations: find, open, rename, export, import and delete what you have kept."""

import streamlit as st

from components import conversation_list, persistence
from nexuschat.i18n import t

st.title(t("conversations.title"))
if st.button(t("sidebar.new_chat"), icon=":material/add:", key="conversations-new",
             on_click=persistence.start_new):
    st.switch_page(conversation_list.CHAT_PAGE)
query = conversation_list.render_search()
conversation_list.render_import()
summaries = persistence.store().list(persistence.owner(), query)
conversation_list.render_list(summaries, query)
