"""A hosted deploy through AppTest: the deployer's key reaches the deployer's API and nothing
else, whatever a visitor types (or sends as widget state, as a crafted websocket message could).

The deployer's API is the fake API; a second fake API on loopback is the stranger's host.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.fake_api import FakeAPI
from tests.app.conftest import KEY, all_text, new_app, provider_secrets, send

VISITOR_KEY = "sk-visitor-own-key-55555555"


@pytest.fixture
def stranger():
    """A server of the visitor's own: it must never see the deployer's key."""
    with FakeAPI() as server:
        yield server


def deploy(fake_api, db_url: str, **extra: str) -> dict:
    return provider_secrets(fake_api, db_url, NEXUSCHAT_MODE="hosted", **extra)


def keys_seen(server: FakeAPI) -> set[str]:
    return {r["headers"].get("authorization", "") for r in server.requests}


def test_the_base_url_is_fixed_while_the_deploy_key_is_in_use(fake_api, db_url, stranger):
    at = new_app(deploy(fake_api, db_url)).run()
    fixed = at.text_input(key="base-url-fixed")
    assert fixed.disabled and fixed.value == fake_api.base_url
    assert "only ever sent to this address" in all_text(at)
    assert not [w for w in at.text_input if w.key == "w_api_key"]  # no visitor keys here

    # A crafted client can still send widget state: it changes nothing.
    at.session_state["w_base_url"] = stranger.base_url
    at.session_state["typed_api_key"] = VISITOR_KEY
    send(at, "where does this go?")
    assert not at.exception
    assert stranger.requests == []
    assert keys_seen(fake_api) == {f"Bearer {KEY}"}
    assert fake_api.chat_requests()[-1]["messages"][-1]["content"] == "where does this go?"


def test_a_visitor_key_may_not_go_to_an_unlisted_host(fake_api, db_url, stranger):
    at = new_app(deploy(fake_api, db_url, NEXUSCHAT_ALLOW_USER_KEYS="true")).run()
    assert "This app's own API key is used" in all_text(at)
    at.text_input(key="w_api_key").input(VISITOR_KEY).run()
    # Only the deploy's URL is listed: the field stays fixed for the visitor's key too.
    assert at.text_input(key="base-url-fixed").value == fake_api.base_url
    assert "allows this address only" in all_text(at)
    at.session_state["w_base_url"] = stranger.base_url
    at.run()
    assert at.chat_input[0].disabled
    assert "does not send requests to that address" in " ".join(e.value for e in at.error)
    assert stranger.requests == []  # not even the model list


def test_a_visitor_key_goes_to_a_listed_host_and_the_deploy_key_never_does(
        fake_api, db_url, stranger):
    at = new_app(deploy(fake_api, db_url, NEXUSCHAT_ALLOW_USER_KEYS="true",
                        NEXUSCHAT_ALLOWED_BASE_URLS=stranger.base_url)).run()
    at.text_input(key="w_api_key").input(VISITOR_KEY).run()
    at.text_input(key="w_base_url").input(stranger.base_url).run()
    shown = all_text(at).replace("\\", "")  # as rendered: the escapes of literal text drop
    assert f"Allowed here: {fake_api.base_url}, {stranger.base_url}" in shown
    send(at, "to my own server")
    assert not at.exception
    assert keys_seen(stranger) == {f"Bearer {VISITOR_KEY}"}
    assert KEY not in str(stranger.requests)
    # Clearing the visitor key puts the deploy's URL back with the deploy's key.
    at.button(key="forget-key").click().run()
    assert at.text_input(key="base-url-fixed").value == fake_api.base_url
    send(at, "back home")
    assert f"Bearer {KEY}" not in keys_seen(stranger)
    assert VISITOR_KEY not in all_text(at)


def test_any_public_https_host_refuses_private_ones_at_once(fake_api, db_url, stranger):
    at = new_app(deploy(fake_api, db_url, NEXUSCHAT_ALLOW_USER_KEYS="true",
                        NEXUSCHAT_ALLOWED_BASE_URLS="*")).run()
    at.text_input(key="w_api_key").input(VISITOR_KEY).run()
    assert "Any public https address" in all_text(at)
    for url, said in ((stranger.base_url, "Only https addresses"),
                      ("https://169.254.169.254/latest", "private or local address"),
                      (f"https://localhost.:{stranger.port}/v1", "private or local address")):
        at.text_input(key="w_base_url").input(url).run()
        assert said in " ".join(e.value for e in at.error), url
        assert at.chat_input[0].disabled
    assert stranger.requests == []


def test_a_deploy_without_a_key_asks_each_visitor_for_theirs(fake_api, db_url):
    secrets = deploy(fake_api, db_url)
    del secrets["NEXUSCHAT_API_KEY"]
    at = new_app({**secrets, "NEXUSCHAT_PROVIDER": "api"}).run()
    assert at.chat_input[0].disabled
    info = " ".join(i.value for i in at.info)
    assert "needs your own API key" in info and "secrets.toml" not in info
    at.text_input(key="w_api_key").input(VISITOR_KEY).run()
    assert not at.chat_input[0].disabled
    send(at, "with my key")
    assert keys_seen(fake_api) == {f"Bearer {VISITOR_KEY}"}


def test_the_hosted_messages_in_chinese(fake_api, db_url, stranger):
    secrets = deploy(fake_api, db_url, NEXUSCHAT_ALLOW_USER_KEYS="true",
                     NEXUSCHAT_ALLOWED_BASE_URLS="*")
    del secrets["NEXUSCHAT_API_KEY"]
    at = new_app({**secrets, "NEXUSCHAT_PROVIDER": "api"})
    at.session_state["w_language"] = "zh"
    at.run()
    assert "需要你自己的 API 密钥" in " ".join(i.value for i in at.info)
    at.text_input(key="w_api_key").input(VISITOR_KEY).run()
    at.text_input(key="w_base_url").input(stranger.base_url).run()
    assert "只允许 https 地址" in " ".join(e.value for e in at.error)


def test_the_visitor_key_is_kept_nowhere(fake_api, db_url):
    at = new_app(deploy(fake_api, db_url, NEXUSCHAT_ALLOW_USER_KEYS="true")).run()
    at.text_input(key="w_api_key").input(VISITOR_KEY).run()
    assert at.text_input(key="w_api_key").value == ""  # taken out of widget state at once
    assert "Your key is set" in all_text(at)
    send(at, "remember nothing secret")
    assert VISITOR_KEY not in all_text(at)
    database = Path(db_url.removeprefix("sqlite:///"))
    for path in database.parent.glob(database.name + "*"):  # the file and its WAL
        data = path.read_bytes()
        assert VISITOR_KEY.encode() not in data and KEY.encode() not in data
