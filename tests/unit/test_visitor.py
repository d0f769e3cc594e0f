"""The visitor cookie: signing, the signing secret, and the ASGI middleware (driven directly)."""

from __future__ import annotations

import asyncio
import stat
import threading

import pytest

from nexuschat import visitor
from nexuschat.visitor import (
    COOKIE_NAME,
    MAX_AGE_S,
    SECURE_COOKIE_NAME,
    VisitorCookieMiddleware,
    load_or_create_secret,
    resolve_secret,
    sign,
    verified_token,
    visitor_from_cookies,
)

SECRET = "unit-test-secret-0123456789abcdef"


def test_tokens_are_random_192_bits_and_round_trip_through_the_signature():
    tokens = {visitor.new_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert len(token) == 32  # 24 bytes, URL-safe base64
    value = sign(token, SECRET)
    assert value.startswith(token + ".") and value != token
    assert verified_token(value, SECRET) == token


@pytest.mark.parametrize("value", [
    None, "", "no-signature", "T" * 32,
    sign("T" * 32, "another deploy's secret"),
    sign("T" * 32, SECRET)[:-1],
    sign("short", SECRET),  # signed, but not a token this deploy makes
    sign("T" * 32, SECRET).replace("T", "U", 1),
])
def test_only_values_this_deploy_signed_are_accepted(value):
    assert verified_token(value, SECRET) is None


def test_a_value_is_not_accepted_without_a_secret():
    assert verified_token(sign("T" * 32, SECRET), "") is None


def test_the_host_prefixed_cookie_wins_over_a_planted_unprefixed_one():
    mine, planted = "M" * 32, "P" * 32
    both = {SECURE_COOKIE_NAME: sign(mine, SECRET), COOKIE_NAME: sign(planted, SECRET)}
    assert visitor_from_cookies(both, SECRET) == visitor.Visitor(mine, lasting=True)
    # A damaged __Host- cookie is not a reason to trust the other one.
    damaged = {SECURE_COOKIE_NAME: "broken", COOKIE_NAME: sign(planted, SECRET)}
    assert visitor_from_cookies(damaged, SECRET) is None
    assert visitor_from_cookies({COOKIE_NAME: sign(planted, SECRET)}, SECRET).token == planted
    assert visitor_from_cookies({"other": "x"}, SECRET) is None


@pytest.mark.parametrize(("scheme", "headers", "expected"), [
    ("http", {}, False),
    ("https", {}, True),
    ("wss", {}, True),
    ("http", {"x-forwarded-proto": "https"}, True),
    ("http", {"x-forwarded-proto": "HTTPS, http"}, True),  # the first proxy's word counts
    ("http", {"x-forwarded-proto": "http"}, False),
    (None, {}, False),
])
def test_is_https(scheme, headers, expected):
    assert visitor.is_https(scheme, headers) is expected


def test_parse_cookie_header():
    parsed = visitor.parse_cookie_header(['a=1; b="two" ; junk', "a=shadowed; c="])
    assert parsed == {"a": "1", "b": "two", "c": ""}


# --- the signing secret ---------------------------------------------------------------------


def test_the_data_dir_secret_is_made_once_private_and_kept(tmp_path):
    folder = tmp_path / "data"
    first = load_or_create_secret(folder)
    path = folder / visitor.SECRET_FILENAME
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(folder) == first  # a restart keeps every visitor
    assert [p.name for p in folder.iterdir()] == [visitor.SECRET_FILENAME]


def test_processes_starting_together_agree_on_one_secret(tmp_path):
    results: list[str] = []
    barrier = threading.Barrier(8)

    def start():
        barrier.wait()
        results.append(load_or_create_secret(tmp_path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1


def test_an_empty_secret_file_is_an_error_not_an_empty_key(tmp_path):
    (tmp_path / visitor.SECRET_FILENAME).write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        load_or_create_secret(tmp_path)


def test_an_unwritable_data_dir_says_what_to_set(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    with pytest.raises(RuntimeError, match="NEXUSCHAT_COOKIE_SECRET"):
        load_or_create_secret(blocked / "data")


def test_the_secret_comes_from_the_setting_then_the_login_then_the_data_dir(tmp_path):
    assert resolve_secret(" configured ", "login", tmp_path) == "configured"
    assert resolve_secret("", "login", tmp_path) == "login"
    assert not any(tmp_path.iterdir())  # no file made while a secret is configured
    assert resolve_secret("", "", tmp_path) == load_or_create_secret(tmp_path)


# --- the middleware -------------------------------------------------------------------------


def run(coroutine) -> None:
    """Run `coroutine` on a loop of its own, in a thread: Playwright's sync API (the e2e
    tests, earlier in the same pytest process) keeps a loop running in the main thread."""
    failure: list[BaseException] = []

    def target():
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


class Recorder:
    """An ASGI app answering 200 with a header of its own; records what it was called with."""

    def __init__(self):
        self.calls: list[tuple[dict, object, object]] = []

    async def __call__(self, scope, receive, send):
        self.calls.append((scope, receive, send))
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"set-cookie", b"own=1")]})
        await send({"type": "http.response.body", "body": b"ok"})


class CountingSecret:
    def __init__(self):
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return SECRET


def http_scope(scheme: str = "http", cookie: str | None = None, **headers: str) -> dict:
    raw = [(b"host", b"127.0.0.1:8501")]
    if cookie is not None:
        raw.append((b"cookie", cookie.encode("latin-1")))
    raw += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "scheme": scheme, "method": "GET", "path": "/", "headers": raw}


def request(scope: dict) -> tuple[list[dict], Recorder, CountingSecret]:
    app, secret, sent = Recorder(), CountingSecret(), []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    run(VisitorCookieMiddleware(app, secret=secret)(scope, receive, send))
    return sent, app, secret


def set_cookies(sent: list[dict]) -> list[str]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return [v.decode("latin-1") for k, v in start["headers"] if k == b"set-cookie"]


def visitor_cookie(sent: list[dict]) -> dict[str, str]:
    """The visitor Set-Cookie's name, value and attributes (lower-case names)."""
    header = next(c for c in set_cookies(sent) if COOKIE_NAME in c.split("=", 1)[0])
    first, *attributes = [part.strip() for part in header.split(";")]
    name, value = first.split("=", 1)
    parsed = {"name": name, "value": value}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        parsed[key.lower()] = val or "yes"
    return parsed


def test_a_first_request_gets_a_signed_httponly_cookie():
    sent, _, _ = request(http_scope())
    cookie = visitor_cookie(sent)
    assert cookie["name"] == COOKIE_NAME  # plain http (a loopback test server): no prefix
    assert verified_token(cookie["value"], SECRET)
    assert cookie["httponly"] == "yes" and cookie["samesite"] == "Lax"
    assert cookie["path"] == "/" and cookie["max-age"] == str(MAX_AGE_S)
    assert "secure" not in cookie and "domain" not in cookie
    assert "own=1" in set_cookies(sent)  # the app's own headers and body are kept
    assert sent[-1] == {"type": "http.response.body", "body": b"ok"}


def test_every_new_browser_gets_its_own_token():
    tokens = {verified_token(visitor_cookie(request(http_scope())[0])["value"], SECRET)
              for _ in range(5)}
    assert len(tokens) == 5


def test_a_valid_cookie_is_left_alone():
    value = sign(visitor.new_token(), SECRET)
    sent, _, _ = request(http_scope(cookie=f"_streamlit_xsrf=abc; {COOKIE_NAME}={value}"))
    assert set_cookies(sent) == ["own=1"]


@pytest.mark.parametrize("value", ["forged", sign("T" * 32, "another deploy's secret")])
def test_a_cookie_this_deploy_did_not_sign_is_replaced(value):
    sent, _, _ = request(http_scope(cookie=f"{COOKIE_NAME}={value}"))
    replaced = visitor_cookie(sent)["value"]
    assert replaced != value and verified_token(replaced, SECRET)


@pytest.mark.parametrize("scope", [
    http_scope("https"),
    http_scope("http", x_forwarded_proto="https"),  # TLS ended at a proxy in front
])
def test_over_https_the_cookie_is_secure_and_host_prefixed(scope):
    cookie = visitor_cookie(request(scope)[0])
    assert cookie["name"] == SECURE_COOKIE_NAME
    assert cookie["secure"] == "yes" and cookie["path"] == "/" and "domain" not in cookie


def test_over_https_an_unprefixed_cookie_does_not_count():
    planted = sign(visitor.new_token(), SECRET)  # what a sibling subdomain could set
    sent, _, _ = request(http_scope("https", cookie=f"{COOKIE_NAME}={planted}"))
    assert visitor_cookie(sent)["name"] == SECURE_COOKIE_NAME
    mine = sign(visitor.new_token(), SECRET)
    sent, _, _ = request(http_scope("https", cookie=f"{SECURE_COOKIE_NAME}={mine}"))
    assert set_cookies(sent) == ["own=1"]


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
def test_websocket_and_lifespan_pass_straight_through(kind):
    app, secret = Recorder(), CountingSecret()
    scope = {"type": kind, "headers": []}

    async def receive():
        return {"type": f"{kind}.connect"}

    async def send(message):
        raise AssertionError("the middleware must not send anything itself")

    run(VisitorCookieMiddleware(app, secret=secret)(scope, receive, send))
    assert app.calls == [(scope, receive, send)]  # the very same callables: nothing wrapped
    assert secret.calls == 0
