"""Baseline for bench.streaming: Gradio's ChatInterface, streaming the documented way.

Benchmark baseline only (not part of NexusChat). The reply function yields the growing text on
every token (https://www.gradio.app/guides/creating-a-chatbot-fast). It reads the API from
BENCH_BASE_URL and serves on 127.0.0.1:BENCH_PORT only: no share link, no analytics, no SSR.
"""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # also skips the version check on launch
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402 - after the settings above
from openai import OpenAI  # noqa: E402

client = OpenAI(base_url=os.environ["BENCH_BASE_URL"], api_key="bench", max_retries=0)
MODEL = os.environ.get("BENCH_MODEL", "claude-sonnet-4-6")
# System fonts: the default theme would fetch Google Fonts (the bench allows loopback only).
FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
MONO = ["ui-monospace", "monospace"]


def text_of(content) -> str:
    """A history message's text (Gradio may hand content as a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def reply(message, history):
    messages = [{"role": m["role"], "content": text_of(m["content"])} for m in history]
    messages.append({"role": "user", "content": text_of(message)})
    stream = client.chat.completions.create(model=MODEL, messages=messages, stream=True)
    text = ""
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
            yield text


demo = gr.ChatInterface(reply, analytics_enabled=False, flagging_mode="never")

if __name__ == "__main__":
    demo.launch(
        server_name="127.0.0.1",
        server_port=int(os.environ["BENCH_PORT"]),
        share=False,
        ssr_mode=False,
        mcp_server=False,
        quiet=True,
        theme=gr.themes.Default(font=FONTS, font_mono=MONO),
    )
