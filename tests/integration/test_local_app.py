"""The app (AppTest) on the real local model: the keyless default, the provider switch, guards.

The app starts its own server on first use (st.cache_resource), as it does for a user; the
module's last fixture releases it.
"""

from __future__ import annotations

import os

import pytest

from components import local_provider, state
from nexuschat.local import INSTALL_COMMAND, LOCAL_MODEL, LocalSetup
from tests.app.conftest import KEY, all_text, new_app, png_bytes
from tests.integration.conftest import local_servers_under

pytestmark = pytest.mark.integration

MAX_TOKENS = 24  # short replies keep the tier quick
RUN_TIMEOUT_S = 120  # a deadline, not a timing assertion: a busy CPU slows the model a lot


@pytest.fixture(scope="module", autouse=True)
def release_app_server():
    """Stop the server the app started (its cache entry's release stops the process)."""
    yield
    local_provider._shared_server.clear()


def start(secrets: dict | None = None):
    at = new_app(secrets)
    at.session_state["w_max_tokens"] = MAX_TOKENS
    return at.run(timeout=RUN_TIMEOUT_S)  # the first run may start the server


def send(at, text: str, *files: tuple[str, bytes, str]):
    """Type (and attach) and submit through the real chat input; wait for the whole reply."""
    chat = at.chat_input[0]
    for name, data, mime in files:
        chat.upload(name, data, mime)
    return chat.set_value(text).run(timeout=RUN_TIMEOUT_S)


def last_reply(at):
    conversation = at.session_state[state.CONVERSATION]
    assert conversation.last is not None and conversation.last.role == "assistant"
    return conversation.last


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_a_newcomer_without_a_key_chats_with_the_local_model(local_setup):
    at = start()
    assert not at.exception
    assert at.radio(key=state.PROVIDER).value == "local"
    assert at.selectbox(key=state.MODEL).value == LOCAL_MODEL
    assert not at.chat_input[0].disabled
    assert "NEXUSCHAT_API_KEY" not in " ".join(i.value for i in at.info)  # no key notice

    send(at, "Say hello.")
    assert not at.exception
    reply = last_reply(at)
    assert reply.content.strip() and reply.content in [m.value for m in at.markdown]
    assert reply.meta.status == "complete"
    assert reply.meta.finish_reason in ("stop", "length")
    assert reply.meta.model == LOCAL_MODEL
    assert "usage not reported" in captions(at)  # the server ignores include_usage


def test_with_a_key_the_api_is_the_default_and_local_stays_selectable(local_setup, fake_api):
    at = start({"NEXUSCHAT_API_KEY": KEY, "NEXUSCHAT_BASE_URL": fake_api.base_url})
    assert at.radio(key=state.PROVIDER).value == "api"
    assert at.selectbox(key=state.MODEL).value != LOCAL_MODEL

    at.radio(key=state.PROVIDER).set_value("local").run(timeout=RUN_TIMEOUT_S)
    assert at.selectbox(key=state.MODEL).options == [LOCAL_MODEL]
    assert "n > 1 is not supported" in captions(at)
    send(at, "Say hello.")
    assert not at.exception
    assert last_reply(at).content.strip()
    assert not fake_api.chat_requests()  # it went to the local model, and the key stayed here
    assert KEY not in all_text(at)

    at.radio(key=state.PROVIDER).set_value("api").run()  # back: the API's default model
    assert at.selectbox(key=state.MODEL).value == "claude-sonnet-4-6"


def test_typing_a_key_switches_to_the_api(local_setup):
    at = start()
    assert at.radio(key=state.PROVIDER).value == "local"
    at.text_input(key="w_api_key").input("sk-typed-in-sidebar-000").run()
    assert at.radio(key=state.PROVIDER).value == "api"
    assert not at.exception


def test_an_image_for_the_local_model_gets_the_vision_guard_not_a_500(local_setup):
    at = start()
    send(at, "what is this?", ("red.png", png_bytes(), "image/png"))
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert LOCAL_MODEL in warning and "cannot read images" in warning
    assert at.session_state[state.DRAFT] is not None  # held, nothing lost
    assert not at.session_state[state.CONVERSATION].messages  # and nothing sent
    assert not at.error


def test_sessions_share_one_server(local_setup, local_server):
    first, second = start(), start()
    send(first, "Hi")
    send(second, "Hello")
    assert last_reply(first).content and last_reply(second).content
    servers = [pid for pid in local_servers_under(os.getpid()) if pid != local_server.pid]
    assert len(servers) == 1, servers


def test_without_the_extra_the_picker_and_page_say_how_to_install_it(monkeypatch):
    # The one way to stand in for an uninstalled extra in-process: the look-up reports it.
    monkeypatch.setattr(local_provider, "find_setup", lambda: LocalSetup(missing="server"))
    at = start()
    assert not at.exception
    assert INSTALL_COMMAND in " ".join(w.value for w in at.sidebar.warning)
    assert INSTALL_COMMAND in " ".join(i.value for i in at.info)
    assert not at.chat_input  # nothing to send to; the sidebar still offers the API

