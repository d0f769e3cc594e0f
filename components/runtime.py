"""Process-wide tuning, done once per server process (never per session)."""

import gc

import streamlit as st


@st.cache_resource(show_spinner=False)
def freeze_startup_objects() -> bool:
    """Hide the objects alive after the first run (modules, the store, the SDK's types) from
    the garbage collector's full collections.

    A full collection walks every tracked object, and Streamlit's, SQLAlchemy's and the SDK's
    own are most of them: about 100 ms per collection with twenty sessions streaming, during
    which no session can paint (bench/load.py). Frozen objects are still freed by reference
    counting; only cycles among them would stay, and startup objects live as long as the
    process anyway.
    """
    gc.freeze()
    return True
