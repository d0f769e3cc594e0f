"""NexusChat router: page config, shared sidebar, navigation (served by streamlit_app.py)."""

import streamlit as st

from components import account, identity, page_style, persistence, spend, state
from components.live_reply import settle_live_turn
from components.runtime import freeze_startup_objects
from components.sidebar import render_sidebar
from nexuschat.i18n import resolve_language, t, use_language
from nexuschat.identity import OPEN
from nexuschat.store import StoreError

# An emoji icon is drawn in the browser; a `:material/...:` favicon is fetched from Google's
# font CDN by every visitor (a request to another host on every page load).
st.set_page_config(page_title="NexusChat", page_icon="💬", layout="centered")
use_language(resolve_language(st.session_state.get("w_language"), st.context.locale))
state.init_state()
page_style.apply()
if (access := identity.access()) != OPEN:
    account.render_gate(access)  # NEXUSCHAT_REQUIRE_LOGIN: nothing else before signing in
else:
    identity.identify()  # whose conversations these are, worked out once per session
    settle_live_turn()  # a reply cut short by Stop or a click lands before anything else runs
    moved = persistence.adopt_old_link()  # ?u= of an old link: once, then never again
    url_problem = persistence.follow_url()  # ?c=<id> names the open conversation
    tools_problem = persistence.load_user_tools()  # the owner's own tools, once per session
    persistence.remember_account()  # a login's name, for the admins' usage totals, once

    navigation = st.navigation(
        [
            st.Page("app_pages/chat.py", title=t("nav.chat"), icon=":material/chat:",
                    default=True),
            st.Page("app_pages/conversations.py", title=t("nav.conversations"),
                    icon=":material/history:"),
            st.Page("app_pages/usage.py", title=t("nav.usage"), icon=":material/payments:"),
            st.Page("app_pages/settings.py", title=t("nav.settings"), icon=":material/tune:"),
        ]
    )
    st.session_state[state.OFFERED_MODELS] = render_sidebar()
    if moved:
        st.toast(t("identity.old_link_moved", count=moved), icon=":material/move_item:")
    if url_problem:
        st.warning(t(url_problem), icon=":material/search_off:")
    if tools_problem:
        st.error(t(tools_problem), icon=":material/database:")
    try:
        navigation.run()
    except StoreError as failure:  # what the user typed or received stays in the session
        st.error(t(persistence.failure_key(persistence.report(failure))),
                 icon=":material/database:")
    spend.render_sidebar_spend()  # after the page: its reply's cost and balance included
freeze_startup_objects()  # once per process, after the first run has imported everything
