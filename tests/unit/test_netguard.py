"""The hosted deploy's network guard, against real servers on loopback (never a patched SDK).

Loopback stands in for everything a visitor must not make the server reach (the deployer's
database port, cloud metadata, other services); the fake API is trusted only where a test lists
it, as a deployer would list an internal API.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpcore2
import pytest

from nexuschat.api import ChatError, ChatStream, build_body, list_models, make_client
from nexuschat.config import Settings
from nexuschat.netguard import (
    GuardedBackend,
    NetworkPolicy,
    is_public,
    literal_address,
    names_loopback,
    normalize_base_url,
)
from nexuschat.params import GenerationParams
from testbed.fake_api import FakeAPI

KEY = "sk-deployer-secret-key-0123456789"


def hosted(base_url: str, *trusted: str) -> Settings:
    """Settings as a hosted deploy builds them: guarded, trusting only the hosts given."""
    return Settings(base_url=base_url, api_key=KEY, read_timeout=5, connect_timeout=2,
                    mode="hosted", network=NetworkPolicy(base_url, frozenset(trusted)))


def chat(settings: Settings) -> list[dict]:
    body = build_body("claude-sonnet-4-6", [{"role": "user", "content": "hi"}],
                      GenerationParams())
    return list(ChatStream(make_client(settings), body))


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1",
    "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:7f00:1::", "2002:a9fe:a9fe::",
])
def test_private_and_special_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_are_public(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("host, address", [
    ("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"), ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"), ("[::1]", "::1"),
    ("0xA9FEA9FE", "169.254.169.254"), ("[fe80::1%eth0]", "fe80::1"),
])
def test_numeric_host_forms_are_read_as_the_address_they_mean(host, address):
    assert literal_address(host) == ipaddress.ip_address(address)
    assert not is_public(literal_address(host))


def test_names_that_mean_this_machine():
    assert all(names_loopback(n) for n in ("localhost", "LOCALHOST.", "api.localhost",
                                           "ip6-localhost"))
    assert not names_loopback("localhost.example.com")
    assert literal_address("nexusflow.hk") is None


def test_base_urls_are_compared_in_one_spelling():
    assert normalize_base_url("HTTPS://NexusFlow.HK:443/v1/") == "https://nexusflow.hk/v1"
    assert normalize_base_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert normalize_base_url("https://[::1]:8443/v1") == "https://[::1]:8443/v1"
    for bad in ("ftp://x/v1", "javascript:alert(1)", "nexusflow.hk/v1", "https://u:p@h/v1",
                "https://h:99999/v1", ""):
        assert normalize_base_url(bad) == ""


@pytest.fixture
def stranger():
    """A second loopback server: a host the visitor names that the deploy must not reach."""
    with FakeAPI() as server:
        yield server


def test_a_hosted_client_never_reaches_an_unlisted_loopback_server(stranger):
    with pytest.raises(ChatError) as refused:
        chat(hosted(stranger.base_url))
    assert refused.value.code == "error.address_blocked"
    assert refused.value.params["host"] == "127.0.0.1"
    with pytest.raises(ChatError) as listing:
        list_models(make_client(hosted(stranger.base_url)))
    assert listing.value.code == "error.address_blocked"
    assert stranger.requests == []  # nothing arrived: not the key, not a byte


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "[::ffff:127.0.0.1]", "localhost"])
def test_other_spellings_of_loopback_are_refused_too(stranger, host):
    with pytest.raises(ChatError) as refused:
        chat(hosted(f"http://{host}:{stranger.port}/v1"))
    # Refused by the guard, or as a URL the HTTP client will not even parse (octal).
    assert refused.value.code in ("error.address_blocked", "error.invalid_url")
    assert stranger.requests == []


def test_a_name_is_judged_by_what_it_resolves_to(stranger):
    # This machine's own name resolves through /etc/hosts, as a stranger's DNS name would.
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    if any(is_public(ipaddress.ip_address(a)) for a in addresses):
        pytest.skip(f"{name} resolves to a public address here: {addresses}")
    with pytest.raises(ChatError) as refused:
        chat(hosted(f"http://{name}:{stranger.port}/v1"))
    assert refused.value.code == "error.address_blocked"
    assert stranger.requests == []


def test_a_listed_host_is_reached_and_gets_the_key(fake_api):
    chunks = chat(hosted(fake_api.base_url, "127.0.0.1"))
    assert "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks if c.get("choices")).startswith("Echo: hi")
    (request,) = fake_api.requests
    assert request["headers"]["authorization"] == f"Bearer {KEY}"


class _Recording(httpcore2.SyncBackend):
    """The real socket backend, recording which address each connection was opened to."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.opened.append(host)
        return super().connect_tcp(host, port, timeout, local_address, socket_options)


def test_dns_rebinding_is_caught_at_connect_time_and_the_checked_address_is_used(fake_api):
    """A name first answers with a public address, then with loopback (a rebinding attack):
    the name is resolved for each connection, the answer is checked then, and the connection
    goes to the very address that was checked."""
    answers = iter([["127.0.0.1"], ["127.0.0.1"]])
    resolved: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        resolved.append(host)
        return next(answers)

    inner = _Recording()
    trusted_first = GuardedBackend({"api.example"}, rebinding, inner)
    trusted_first.connect_tcp("api.example", fake_api.port, timeout=2).close()
    assert inner.opened == ["127.0.0.1"]  # the checked answer, not a fresh look-up

    untrusted = GuardedBackend((), rebinding, inner)
    with pytest.raises(httpcore2.ConnectError, match="127.0.0.1"):
        untrusted.connect_tcp("rebind.example", fake_api.port, timeout=2)
    assert resolved == ["api.example", "rebind.example"]  # one look-up per connection
    assert inner.opened == ["127.0.0.1"]  # the refused one never opened


def test_one_private_answer_among_public_ones_refuses_the_name(fake_api):
    inner = _Recording()
    backend = GuardedBackend((), lambda host, port: ["93.184.216.34", "127.0.0.1"], inner)
    with pytest.raises(httpcore2.ConnectError):
        backend.connect_tcp("mixed.example", fake_api.port, timeout=2)
    assert inner.opened == []


class _Redirecting(BaseHTTPRequestHandler):
    """An API that answers every request with a redirect to `target` (another origin)."""

    target = ""

    def do_GET(self) -> None:
        self._redirect()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._redirect()

    def _redirect(self) -> None:
        self.send_response(307)
        self.send_header("Location", self.target + self.path.removeprefix("/v1"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_redirect_to_another_host_is_not_followed(fake_api, stranger):
    handler = type("ToStranger", (_Redirecting,), {"target": stranger.base_url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        own = f"http://127.0.0.1:{server.server_address[1]}/v1"
        # Both are loopback and listed, so only the origin rule stands between them.
        settings = hosted(own, "127.0.0.1")
        with pytest.raises(ChatError) as refused:
            chat(settings)
        assert refused.value.code == "error.redirect_blocked"
        with pytest.raises(ChatError):
            list_models(make_client(settings))
    finally:
        server.shutdown()
        server.server_close()
    assert stranger.requests == []


def test_settings_with_a_refused_url_build_no_client():
    settings = Settings(base_url="http://10.0.0.5/v1", api_key=KEY, mode="hosted",
                        url_problem="policy.url_not_allowed",
                        url_problem_detail="https://nexusflow.hk/v1")
    with pytest.raises(ChatError) as refused:
        make_client(settings)
    assert refused.value.code == "policy.url_not_allowed"
    assert KEY not in json.dumps(refused.value.params)
