"""A real OpenID Connect provider on loopback for login tests: `oidc-provider-mock` (dev extra).

Run as its own process (`python -m oidc_provider_mock`), on a free 127.0.0.1 port. Its defaults,
read from its source (0.3.x): any client id and secret are accepted (no registration), no nonce
is required, tokens last an hour, and the issuer is the URL it is reached at. Its sign-in page
lists the predefined users as buttons; its end-session page asks for one click ("End session")
and then returns to the `post_logout_redirect_uri` Streamlit sends. Its pages link a stylesheet
on a public CDN: browser tests route every non-loopback request to an abort.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from nexuschat.machine import free_port
from testbed.app_server import STARTUP_TIMEOUT_S, LoggedProcess


@dataclass(frozen=True)
class OidcUser:
    """A predefined user of the provider (its sign-in page shows a button named `sub`)."""

    sub: str
    name: str
    email: str


ALICE = OidcUser("alice", "Alice Example", "alice@example.com")
BOB = OidcUser("bob", "Bob Example", "bob@example.com")
CLIENT_ID = "nexuschat-e2e"
CLIENT_SECRET = "nexuschat-e2e-client-secret"


class OidcProvider(LoggedProcess):
    """`python -m oidc_provider_mock` on a free loopback port, with ALICE and BOB predefined."""

    def __init__(self, workdir: Path, users: tuple[OidcUser, ...] = (ALICE, BOB)):
        self.users = users
        self.log_path = workdir / "oidc-provider.log"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def start(self) -> OidcProvider:
        self.port = free_port()
        command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
                   "--port", str(self.port)]
        for user in self.users:
            claims = {"sub": user.sub, "name": user.name, "email": user.email}
            command += ["--user-claims", json.dumps(claims)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OIDC provider did not start:\n{self.log()}")
            time.sleep(0.2)
        return self

    def _answers(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.metadata_url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False


    def auth_secrets(self, cookie_secret: str) -> str:
        """An `[auth]` section for secrets.toml pointing Streamlit's login at this provider."""
        return (
            "[auth]\n"
            # Streamlit fills in its own port; the browser must use this same host (127.0.0.1):
            # the login cookie is checked against the websocket's Origin.
            'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{cookie_secret}"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{self.metadata_url}"\n'
        )
