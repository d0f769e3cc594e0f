"""AppTest fixtures: the real app, its secrets set explicitly, talking to the fake API."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-apptest-secret-987654321"
ENV_NAMES = ("NEXUSCHAT_API_KEY", "OPENAI_API_KEY", "NEXUSCHAT_BASE_URL", "NEXUSCHAT_MODEL",
             "NEXUSCHAT_READ_TIMEOUT", "NEXUSCHAT_CONNECT_TIMEOUT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No key or URL from the machine running the tests leaks into the app."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()  # the model list is cached per process, like in a real server


def new_app(secrets: dict | None = None) -> AppTest:
    """The real router script, with exactly these secrets."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    for name, value in (secrets or {}).items():
        at.secrets[name] = value
    return at


@pytest.fixture
def app(fake_api) -> AppTest:
    """The app with a key and the fake API as its provider, after a first run."""
    at = new_app({"NEXUSCHAT_API_KEY": KEY, "NEXUSCHAT_BASE_URL": fake_api.base_url,
                  "NEXUSCHAT_READ_TIMEOUT": "3"})
    return at.run()


def png_bytes(size=(64, 48), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def all_text(at: AppTest) -> str:
    """Every string the page shows, for checks like "the key never appears"."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title",
                 "subheader", "text"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    for widget in ("text_input", "text_area", "button", "selectbox"):
        for w in getattr(at, widget):
            parts.append(str(getattr(w, "label", "")))
            if widget != "text_input" or w.key != "w_api_key":
                parts.append(str(getattr(w, "value", "")))
    return "\n".join(parts)


def send(at: AppTest, text: str, *files: tuple[str, bytes, str]) -> AppTest:
    """Type (and attach) and submit through the real chat input."""
    chat = at.chat_input[0]
    for name, data, mime in files:
        chat.upload(name, data, mime)
    return chat.set_value(text).run()
