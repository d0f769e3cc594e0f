"""NexusChat's server entry: the router (router.py) as an st.App with NexusChat's middleware.

`streamlit run streamlit_app.py` (the Makefile, Streamlit Community Cloud's default main file)
finds `app` and serves it with the same flags, `.streamlit/config.toml` and secrets as a plain
script. The middleware gives each browser a signed HttpOnly visitor cookie
(nexuschat/visitor.py): hosted visitors are known by it, never by anything in the URL.
"""

import streamlit as st
from starlette.middleware import Middleware

from components.identity import cookie_secret
from nexuschat.visitor import VisitorCookieMiddleware

app = st.App("router.py", middleware=[Middleware(VisitorCookieMiddleware, secret=cookie_secret)])
