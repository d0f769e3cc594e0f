"""Which provider a run uses, and what the core promises about the local model's quirks."""

from __future__ import annotations

import pytest

from nexuschat.config import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    PROVIDER_API,
    PROVIDER_LOCAL,
    choose_provider,
    resolve_settings,
)
from nexuschat.conversation import Conversation, Message, ReplyMeta, message_to_openai, to_openai
from nexuschat.images import PreparedImage
from nexuschat.local import LOCAL_MODEL
from nexuschat.models import capabilities
from nexuschat.params import GenerationParams, validate
from nexuschat.turns import Draft, blockers


def test_with_no_key_and_no_url_the_local_model_is_the_default():
    s = resolve_settings({}, {}, {})
    assert (s.provider, s.model, s.api_key, s.base_url) == (PROVIDER_LOCAL, LOCAL_MODEL, "", "")
    assert s.is_local and not s.needs_key


@pytest.mark.parametrize("configured", [
    {"NEXUSCHAT_API_KEY": "sk-x"},
    {"OPENAI_API_KEY": "sk-x"},
    {"NEXUSCHAT_BASE_URL": "http://127.0.0.1:11434/v1"},  # a keyless server of one's own
])
def test_a_configured_key_or_url_makes_the_api_the_default(configured):
    for source in ("secrets", "env"):
        s = resolve_settings({}, configured if source == "secrets" else {},
                             configured if source == "env" else {})
        assert s.provider == PROVIDER_API and not s.is_local


def test_nexuschat_provider_overrides_the_default_both_ways():
    api = resolve_settings({}, {}, {"NEXUSCHAT_PROVIDER": "nexusflow"})
    assert (api.provider, api.base_url, api.model) == (PROVIDER_API, DEFAULT_BASE_URL,
                                                       DEFAULT_MODEL)
    assert api.needs_key  # the API without a key: the page asks for one
    local = resolve_settings({}, {"NEXUSCHAT_API_KEY": "sk-secret-123456"},
                             {"NEXUSCHAT_PROVIDER": "Local", "NEXUSCHAT_MODEL": "claude-x"})
    assert (local.provider, local.model) == (PROVIDER_LOCAL, LOCAL_MODEL)
    assert local.api_key == ""  # the key is for the API it names, never sent to the local one
    assert "sk-secret" not in repr(local)


def test_the_sidebar_choice_beats_secrets_and_environment():
    s = resolve_settings({"NEXUSCHAT_PROVIDER": "local"}, {"NEXUSCHAT_PROVIDER": "api"},
                         {"NEXUSCHAT_API_KEY": "sk-x"})
    assert s.is_local
    s = resolve_settings({"NEXUSCHAT_PROVIDER": "api"}, {}, {})
    assert s.provider == PROVIDER_API and s.needs_key


def test_an_unknown_provider_name_falls_back_to_the_default():
    assert choose_provider("ollama", configured=False) == PROVIDER_LOCAL
    assert choose_provider(" ", configured=True) == PROVIDER_API
    assert choose_provider("OFFLINE", configured=True) == PROVIDER_LOCAL


def test_the_local_model_is_honestly_text_only_with_one_choice():
    caps = capabilities(LOCAL_MODEL)
    assert (caps.vision, caps.tools, caps.multiple_choices) == (False, False, False)
    assert capabilities("claude-sonnet-4-6").multiple_choices  # others: no known limit
    image = PreparedImage(data=b"\xff\xd8", mime="image/jpeg", width=8, height=8, name="a.jpg",
                          source_width=8, source_height=8, source_bytes=2)
    assert "vision" in blockers(Draft("what is this?", (image,)), LOCAL_MODEL,
                                GenerationParams())


def test_an_empty_assistant_turn_is_sent_as_an_empty_string_never_null():
    # llama-cpp-python's server answers 500 to `content: null` (tests/integration checks).
    empty = Message("assistant", "", meta=ReplyMeta(status="stopped"))
    assert message_to_openai(empty) == {"role": "assistant", "content": ""}
    conversation = Conversation(messages=(Message("user", "hi"), empty, Message("user", "go")))
    assert all(isinstance(m["content"], str) for m in to_openai(conversation))


@pytest.mark.parametrize("params", [
    GenerationParams(top_p=1.5),
    GenerationParams(presence_penalty=3.0),
    GenerationParams(frequency_penalty=-2.5),
    GenerationParams(max_tokens=0),
])
def test_values_the_local_server_answers_500_to_are_stopped_before_sending(params):
    assert validate(params)


def test_usage_missing_from_the_stream_is_shown_as_unknown_not_estimated():
    meta = ReplyMeta(model=LOCAL_MODEL, finish_reason="stop", ttft_s=0.1, duration_s=1.0)
    assert not meta.has_usage and meta.tokens_per_s is None
