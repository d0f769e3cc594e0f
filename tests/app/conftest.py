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
             "NEXUSCHAT_READ_TIMEOUT", "NEXUSCHAT_CONNECT_TIMEOUT", "NEXUSCHAT_DATABASE_URL",
             "NEXUSCHAT_MODE", "NEXUSCHAT_DATA_DIR", "NEXUSCHAT_PROVIDER")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No key, URL or database from the machine running the tests leaks into the app."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEXUSCHAT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()  # the model list is cached per process, like in a real server


def new_app(secrets: dict | None = None) -> AppTest:
    """The real router script, with exactly these secrets."""
    at = AppTest.from_file(str(ROOT / "router.py"), default_timeout=30)
    for name, value in (secrets or {}).items():
        at.secrets[name] = value
    return at


def provider_secrets(fake_api, database_url: str, **extra: str) -> dict:
    """Secrets for an app talking to the fake API and keeping history in `database_url`."""
    return {"NEXUSCHAT_API_KEY": KEY, "NEXUSCHAT_BASE_URL": fake_api.base_url,
            "NEXUSCHAT_READ_TIMEOUT": "3", "NEXUSCHAT_DATABASE_URL": database_url,
            "NEXUSCHAT_MODE": "local", **extra}


@pytest.fixture
def db_url(tmp_path) -> str:
    """A fresh SQLite database for one test."""
    return f"sqlite:///{tmp_path / 'history.sqlite3'}"


@pytest.fixture
def app(fake_api, db_url) -> AppTest:
    """The app with a key and the fake API as its provider, after a first run."""
    return new_app(provider_secrets(fake_api, db_url)).run()


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


def image_captions(at: AppTest) -> str:
    """The facts drawn under the images (pixel size, bytes, tokens), one per line."""
    return "\n".join(caption for image in at.image for caption in image.captions)


def send(at: AppTest, text: str, *files: tuple[str, bytes, str]) -> AppTest:
    """Type (and attach) and submit through the real chat input."""
    chat = at.chat_input[0]
    for name, data, mime in files:
        chat.upload(name, data, mime)
    return chat.set_value(text).run()
