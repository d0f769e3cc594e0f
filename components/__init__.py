"""Streamlit rendering pieces: each takes plain data from nexuschat/ and draws it."""
