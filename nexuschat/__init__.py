"""NexusChat core: plain data and pure functions, no Streamlit (pages and components render)."""
