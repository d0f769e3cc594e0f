"""A hosted visitor's identity: a random token in a signed HttpOnly cookie, never in the URL.

Why a cookie and not the URL (`?u=` before): people copy addresses into chats and share
screenshots of the address bar; a token there handed a stranger every conversation. A cookie
is not part of what is copied. HttpOnly: page script (including anything injected into the
page) cannot read it, only the browser sends it. Signed (HMAC, itsdangerous): only tokens this
deploy issued are accepted, so a made-up or truncated value is replaced, never trusted.

`VisitorCookieMiddleware` is pure ASGI: on an HTTP request without a valid cookie it sets one
on the response; websocket connections pass straight through (the script reads the cookie the
browser sent with the websocket handshake, through `st.context.cookies`). Only a digest of the
token ever reaches the database (`nexuschat.identity.visitor_owner`).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, Signer

COOKIE_NAME = "nexuschat_visitor"
# Over https: the browser keeps a __Host- cookie only if it is Secure, has Path=/ and no
# Domain, so a sibling subdomain cannot plant one of its own (session fixation).
SECURE_COOKIE_NAME = f"__Host-{COOKIE_NAME}"
MAX_AGE_S = 400 * 24 * 3600  # the longest lifetime browsers allow (RFC 6265bis)
TOKEN_BYTES = 24  # 192 random bits
SECRET_ENV = "NEXUSCHAT_COOKIE_SECRET"
SECRET_FILENAME = "cookie_secret"
_SALT = "nexuschat.visitor"  # the same secret signing something else never yields a token
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")  # token_urlsafe(24)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Visitor:
    """Who this browser session is without a login: its token, and whether it outlives the visit."""

    token: str
    lasting: bool  # from the cookie (True), or made up for this visit only (False)


def new_token() -> str:
    """A fresh random visitor token (192 bits, URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def _signer(secret: str) -> Signer:
    return Signer(secret, salt=_SALT, digest_method=hashlib.sha256)


def sign(token: str, secret: str) -> str:
    """The cookie value carrying `token`, signed with `secret`."""
    return _signer(secret).sign(token).decode("ascii")


def verified_token(value: str | None, secret: str) -> str | None:
    """The token in a cookie value if this deploy signed it (with `secret`); else None."""
    if not value or not secret:
        return None
    try:
        token = _signer(secret).unsign(value.encode("latin-1")).decode("ascii")
    except (BadSignature, UnicodeError):
        return None
    return token if _TOKEN.fullmatch(token) else None


def visitor_from_cookies(cookies: Mapping[str, str], secret: str) -> Visitor | None:
    """The visitor the browser's cookies name, or None without a valid one.

    The `__Host-` cookie wins: when it is there the browser got it over https, and an
    unprefixed one beside it may have been planted by a sibling subdomain.
    """
    if SECURE_COOKIE_NAME in cookies:
        token = verified_token(cookies[SECURE_COOKIE_NAME], secret)
    else:
        token = verified_token(cookies.get(COOKIE_NAME), secret)
    return Visitor(token, lasting=True) if token else None


def is_https(scheme: str | None, headers: Mapping[str, str]) -> bool:
    """Whether the browser reached us over https: directly, or through a proxy that says so.

    X-Forwarded-Proto is believed from anyone: a client claiming https over plain http only
    gets a Secure cookie its browser will not keep.
    """
    if (scheme or "").lower() in ("https", "wss"):
        return True
    forwarded = headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


def cookie_name(secure: bool) -> str:
    """The cookie's name: `__Host-` prefixed over https."""
    return SECURE_COOKIE_NAME if secure else COOKIE_NAME


def set_cookie_header(value: str, secure: bool) -> str:
    """A Set-Cookie header value for the visitor cookie."""
    attributes = [f"{cookie_name(secure)}={value}", "Path=/", f"Max-Age={MAX_AGE_S}",
                  "HttpOnly", "SameSite=Lax"]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)


def parse_cookie_header(values: Iterable[str]) -> dict[str, str]:
    """Name -> value from Cookie header values (the first of a repeated name wins, as the
    most specific path comes first)."""
    cookies: dict[str, str] = {}
    for header in values:
        for pair in header.split(";"):
            name, sep, value = pair.partition("=")
            name = name.strip()
            if sep and name and name not in cookies:
                cookies[name] = value.strip().strip('"')
    return cookies


# --- the signing secret ---------------------------------------------------------------------


def resolve_secret(configured: str, login_secret: str, folder: Path) -> str:
    """NEXUSCHAT_COOKIE_SECRET if set; else the login's `[auth] cookie_secret`; else the
    random secret kept in `folder` (created once), so a restart keeps every visitor."""
    if configured.strip():
        return configured.strip()
    if login_secret.strip():
        return login_secret.strip()
    return load_or_create_secret(folder)


def load_or_create_secret(folder: Path) -> str:
    """The secret in `folder`/cookie_secret, created (mode 0600) the first time.

    Created under another name and linked into place, so two processes starting at once
    agree on one secret and nobody ever reads a half-written file.
    """
    path = folder / SECRET_FILENAME
    with suppress(FileNotFoundError, NotADirectoryError):
        return _read_secret(path)
    draft = folder / f".{SECRET_FILENAME}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:  # a read-only disk: say what to do instead of a bare traceback
        raise RuntimeError(
            f"cannot keep the visitor cookie's secret in {folder} ({exc.strerror}): set "
            f"{SECRET_ENV} in secrets or the environment, or make NEXUSCHAT_DATA_DIR writable"
        ) from exc
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        with suppress(FileExistsError):
            os.link(draft, path)  # fails if another process got there first: use theirs
    finally:
        draft.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    secret = path.read_text().strip()
    if not secret:
        raise ValueError(f"{path} is empty: delete it to have a new secret made")
    return secret


# --- the middleware -------------------------------------------------------------------------


class VisitorCookieMiddleware:
    """Gives every browser a signed, HttpOnly visitor cookie on its first HTTP response.

    `secret` is called per HTTP request (cheap: the caller caches it); websocket and
    lifespan scopes go straight to the app, so streaming pays nothing for this.
    """

    def __init__(self, app: ASGIApp, secret: Callable[[], str]):
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        cookie_values: list[str] = []
        for raw_name, raw_value in scope.get("headers", ()):
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            if name == "cookie":
                cookie_values.append(value)
            else:
                headers.setdefault(name, value)
        secure = is_https(scope.get("scheme"), headers)
        secret = self.secret()
        current = parse_cookie_header(cookie_values).get(cookie_name(secure))
        if verified_token(current, secret):
            await self.app(scope, receive, send)
            return
        header = set_cookie_header(sign(new_token(), secret), secure).encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message,
                           "headers": [*message.get("headers", ()), (b"set-cookie", header)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
