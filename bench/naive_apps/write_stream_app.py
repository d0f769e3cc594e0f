"""Baseline for bench.streaming: the Streamlit tutorial chat, streaming with `st.write_stream`.

Benchmark baseline only (not part of NexusChat). It reads the API from BENCH_BASE_URL.
"""

import os

import streamlit as st
from openai import OpenAI

client = OpenAI(base_url=os.environ["BENCH_BASE_URL"], api_key="bench", max_retries=0)
MODEL = os.environ.get("BENCH_MODEL", "claude-sonnet-4-6")

if "messages" not in st.session_state:
    st.session_state.messages = []

for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(message["content"])

if prompt := st.chat_input("What is up?"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        stream = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": m["role"], "content": m["content"]}
                      for m in st.session_state.messages],
            stream=True,
        )
        response = st.write_stream(stream)
    st.session_state.messages.append({"role": "assistant", "content": response})
