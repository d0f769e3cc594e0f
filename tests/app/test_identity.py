"""Whose conversations a session sees (AppTest): visitors, old `?u=` links, logins, and
NEXUSCHAT_REQUIRE_LOGIN. The cookie itself needs a real server: tests/e2e/test_identity.py."""

from __future__ import annotations

import pytest

from nexuschat.conversation import Conversation, Message
from nexuschat.identity import login_owner, old_link_owner
from nexuschat.store import Store
from tests.app.conftest import new_app, provider_secrets, send

HOSTED = {"NEXUSCHAT_MODE": "hosted"}
OLD_TOKEN = "0123456789abcdef" * 3  # a `?u=` of the kind links carried before the cookie
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "apptest-cookie-secret-0123456789",
    "client_id": "nexuschat-apptest",
    "client_secret": "apptest-client-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ISSUER = "http://127.0.0.1:9"
ALICE = {"is_logged_in": True, "iss": ISSUER, "sub": "alice", "name": "Alice Example",
         "email": "alice@example.com"}
BOB = {"is_logged_in": True, "iss": ISSUER, "sub": "bob", "email": "bob@example.com"}


def hosted_app(fake_api, db_url, *, user: dict | None = None, auth: dict | None = None,
               query: dict | None = None, **extra: str):
    at = new_app(provider_secrets(fake_api, db_url, **HOSTED, **extra))
    if auth is not None:
        at.secrets["auth"] = auth
    if user is not None:
        at.user = user
    at.query_params.update(query or {})
    return at.run()


def texts(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def warnings(at) -> list[str]:
    return [w.value for w in at.warning]


def button_keys(at) -> set[str]:
    return {b.key for b in at.button if b.key}


def test_a_visitor_without_the_cookie_keeps_conversations_for_this_visit_only(fake_api, db_url):
    visitor = hosted_app(fake_api, db_url)
    send(visitor, "my own notes")
    assert "u" not in visitor.query_params  # the token never goes into the address
    conversation_id = visitor.query_params["c"]
    visitor.run()
    assert "my own notes" in texts(visitor)  # the same session keeps it
    assert any("this visit only" in c.value for c in visitor.caption)

    stranger = hosted_app(fake_api, db_url, query={"c": conversation_id})
    missing = hosted_app(fake_api, db_url, query={"c": "f" * 32})
    assert "my own notes" not in texts(stranger)
    # Someone else's conversation reads exactly like one that does not exist.
    assert warnings(stranger) == warnings(missing)
    assert warnings(stranger) and "does not exist" in warnings(stranger)[0]


def seed_old_link(db_url: str, text: str) -> str:
    """A conversation as a visitor of an old `?u=` link left it; its id."""
    conversation = Conversation(messages=(Message("user", text),))
    with Store.open(db_url) as store:
        store.create(old_link_owner(OLD_TOKEN), conversation)
    return conversation.id


def owned_by(db_url: str, owner: str) -> list[str]:
    with Store.open(db_url) as store:
        return [s.id for s in store.list(owner)]


def test_an_old_link_moves_its_conversations_once_then_opens_nothing(fake_api, db_url):
    cid = seed_old_link(db_url, "written before the cookie")
    link = {"u": OLD_TOKEN, "c": cid}
    alice = hosted_app(fake_api, db_url, user=ALICE, auth=AUTH, query=link)
    assert not alice.exception
    assert "written before the cookie" in texts(alice)
    assert "u" not in alice.query_params and alice.query_params["c"] == cid
    assert any("Kept 1 conversation" in t.value for t in alice.toast)
    assert owned_by(db_url, old_link_owner(OLD_TOKEN)) == []
    assert owned_by(db_url, login_owner(ALICE)) == [cid]

    leaked = hosted_app(fake_api, db_url, user=BOB, auth=AUTH, query=link)
    assert "written before the cookie" not in texts(leaked)
    assert "u" not in leaked.query_params
    assert warnings(leaked) and "does not exist" in warnings(leaked)[0]
    assert owned_by(db_url, login_owner(BOB)) == []


def test_an_old_link_moves_nothing_when_this_visit_would_not_keep_it(fake_api, db_url):
    cid = seed_old_link(db_url, "kept for a browser with the cookie")
    at = hosted_app(fake_api, db_url, query={"u": OLD_TOKEN, "c": cid})
    assert "u" not in at.query_params  # dropped from the address all the same
    assert owned_by(db_url, old_link_owner(OLD_TOKEN)) == [cid]  # still there for later
    assert not at.toast


def test_without_auth_the_sidebar_offers_no_sign_in(fake_api, db_url):
    at = hosted_app(fake_api, db_url)
    assert not {"sign-in", "sign-out"} & button_keys(at)
    assert at.chat_input


def test_signed_out_the_sidebar_offers_sign_in(fake_api, db_url):
    at = hosted_app(fake_api, db_url, auth=AUTH, user={"is_logged_in": False})
    assert at.button(key="sign-in").label == "Sign in"
    assert "sign-out" not in button_keys(at)
    assert at.chat_input  # a login is offered, not required


def test_signed_in_the_sidebar_shows_who_and_sign_out_ends_it(fake_api, db_url):
    at = hosted_app(fake_api, db_url, auth=AUTH, user=ALICE)
    captions = " ".join(c.value for c in at.caption)
    assert "Signed in as Alice Example" in captions
    assert "sign-in" not in button_keys(at)
    at.button(key="sign-out").click().run()
    assert not at.exception
    assert "Signed in as" not in " ".join(c.value for c in at.caption)
    assert "sign-in" in button_keys(at)


def test_a_user_without_a_name_is_shown_by_email(fake_api, db_url):
    at = hosted_app(fake_api, db_url, auth=AUTH, user=BOB)
    assert "Signed in as bob@example.com" in " ".join(c.value for c in at.caption)


def test_an_incomplete_auth_section_is_named_instead_of_a_broken_sign_in(fake_api, db_url):
    at = hosted_app(fake_api, db_url, auth={"redirect_uri": AUTH["redirect_uri"]})
    assert "sign-in" not in button_keys(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Sign-in is not available" in captions
    assert "cookie_secret, client_id, client_secret, server_metadata_url" in captions


def test_each_user_sees_only_their_own_conversations(fake_api, db_url):
    alice = hosted_app(fake_api, db_url, auth=AUTH, user=ALICE)
    send(alice, "alice's secret plan")
    cid = alice.query_params["c"]
    bob = hosted_app(fake_api, db_url, auth=AUTH, user=BOB, query={"c": cid})
    assert "alice's secret plan" not in texts(bob)
    assert warnings(bob) and "does not exist" in warnings(bob)[0]
    bob.switch_page("app_pages/conversations.py").run()
    assert not [b for b in bob.button if (b.key or "").startswith("open-")]
    again = hosted_app(fake_api, db_url, auth=AUTH, user=ALICE, query={"c": cid})
    assert "alice's secret plan" in texts(again)


REQUIRED = {"NEXUSCHAT_REQUIRE_LOGIN": "true"}


@pytest.mark.parametrize("page", ["app_pages/chat.py", "app_pages/conversations.py",
                                  "app_pages/settings.py"])
def test_require_login_allows_no_chat_before_signing_in(fake_api, db_url, page):
    at = hosted_app(fake_api, db_url, auth=AUTH, user={"is_logged_in": False}, **REQUIRED)
    at.switch_page(page).run()
    assert not at.exception
    assert not at.chat_input
    assert "new-chat" not in button_keys(at)
    assert "Sign in to chat" in at.info[0].value
    assert at.button(key="gate-sign-in").label == "Sign in"
    assert fake_api.chat_requests() == []


def test_require_login_speaks_the_users_language(fake_api, db_url):
    at = new_app(provider_secrets(fake_api, db_url, **HOSTED, **REQUIRED))
    at.secrets["auth"] = AUTH
    at.context = {"locale": "zh-CN"}
    at.run()
    assert "请登录后再聊天" in at.info[0].value
    assert at.button(key="gate-sign-in").label == "登录"


def test_require_login_lets_a_signed_in_user_chat(fake_api, db_url):
    at = hosted_app(fake_api, db_url, auth=AUTH, user=ALICE, **REQUIRED)
    assert not at.info or "Sign in to chat" not in at.info[0].value
    send(at, "hello after signing in")
    assert "Echo: hello after signing in" in texts(at)


def test_require_login_without_auth_says_the_deploy_is_misconfigured(fake_api, db_url):
    at = hosted_app(fake_api, db_url, **REQUIRED)
    assert not at.exception
    assert not at.chat_input
    assert not button_keys(at) & {"gate-sign-in", "sign-in", "new-chat"}
    error = at.error[0].value
    assert "misconfigured" in error and "NEXUSCHAT_REQUIRE_LOGIN" in error
    assert "no `[auth]` section" in error
