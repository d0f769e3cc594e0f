"""One API client per provider and key, shared across reruns (building one costs ~20 ms)."""

from __future__ import annotations

import hashlib

import openai
import streamlit as st

from nexuschat.api import make_client
from nexuschat.config import Settings
from nexuschat.netguard import NetworkPolicy


@st.cache_resource(max_entries=64, show_spinner=False)
def _shared_client(base_url: str, key_digest: str, connect_timeout: float, read_timeout: float,
                   network: NetworkPolicy | None, _settings: Settings) -> openai.OpenAI:
    # Keyed by a digest of the key, never the key; the client is thread-safe and never mutated.
    return make_client(_settings)


def key_digest(settings: Settings) -> str:
    """A stable, irreversible stand-in for the API key, for cache keys."""
    return hashlib.sha256(settings.api_key.encode()).hexdigest()


def client_for(settings: Settings) -> openai.OpenAI:
    """The shared client for these settings (do not close it)."""
    return _shared_client(settings.base_url, key_digest(settings), settings.connect_timeout,
                          settings.read_timeout, settings.network, settings)
