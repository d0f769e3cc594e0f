"""Baseline for bench.investigations.ttft: a chat page that sends on submit, nothing else
first.

Benchmark baseline only (not part of NexusChat): no history drawn, no store, one cached client,
so the time from Enter to the request is Streamlit's own (websocket message, rerun, script
start) plus the client's. It reads the API from BENCH_BASE_URL.
"""

import os

import streamlit as st
from openai import OpenAI

MODEL = os.environ.get("BENCH_MODEL", "claude-sonnet-4-6")


@st.cache_resource
def client() -> OpenAI:
    return OpenAI(base_url=os.environ["BENCH_BASE_URL"], api_key="bench", max_retries=0)


if prompt := st.chat_input("Message"):
    stream = client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], stream=True,
    )
    reply = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    st.chat_message("assistant").markdown(reply)
