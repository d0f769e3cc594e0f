"""Where a hosted deploy may send requests: base-URL rules, and a guard on every connection.

A hosted deploy serves strangers with the deployer's key and from inside the deployer's network,
so two things must hold for every request the server makes on a visitor's behalf:
- the deployer's key goes only to the deployer's own API (the base URL is fixed while it is in
  use; see `nexuschat.config`), and the client never follows a redirect to another host;
- a visitor cannot make the server reach what only the server can reach (loopback, the private
  network, link-local cloud metadata at 169.254.169.254, ...): a server-side request forgery.

The address check runs when a connection opens, on the addresses the name resolves to then, and
the connection goes to the address that was checked: a name that resolves to a public address
when the URL is typed and to 127.0.0.1 a second later (DNS rebinding) is refused, and numeric
forms (`2130706433`, `0177.0.0.1`, `[::ffff:127.0.0.1]`) are caught because the resolver turns
them into the address they mean. Hosts the deployer listed are trusted whatever they resolve to
(an internal vLLM, or the test suite's fake API on loopback).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore2
import httpx2

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Not "global" (3.11's ipaddress tables), plus what some versions list as global: CGNAT (also
# Alibaba Cloud's metadata at 100.100.100.200), NAT64 and 6to4 wrappers (checked by what they
# wrap), and the multicast ranges.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def is_public(address: Address) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local, CGNAT,
    multicast, reserved or unspecified; IPv6 forms that wrap an IPv4 address are judged by it)."""
    if isinstance(address, ipaddress.IPv6Address):
        wrapped = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if wrapped is None and address in _NAT64:
            wrapped = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if wrapped is not None:
            return is_public(wrapped)
    if address.is_multicast or (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT):
        return False
    return address.is_global


def literal_address(host: str) -> Address | None:
    """The address a host names by itself (dotted, decimal, octal or hex IPv4; IPv6 with or
    without brackets), without asking DNS; None for a name."""
    host = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:  # the forms C's inet_aton accepts, as resolvers and browsers do: 2130706433, 0x7f.1
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def names_loopback(host: str) -> bool:
    """Whether a host name means this machine whatever DNS says (`localhost.`, `x.localhost`)."""
    name = host.strip().rstrip(".").lower()
    return name in _LOOPBACK_NAMES or name.endswith(".localhost")


def normalize_base_url(url: str) -> str:
    """A base URL in one spelling: lower-case scheme and host, no default port, no trailing
    slash, no query or fragment; "" when it is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        return ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def host_of(url: str) -> str:
    """The lower-case host of a URL ("" if it has none)."""
    try:
        return (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def _origin(url: httpx2.URL | str) -> tuple[str, str, int | None]:
    url = httpx2.URL(url) if isinstance(url, str) else url
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host.rstrip(".").lower(), url.port or default


@dataclass(frozen=True)
class NetworkPolicy:
    """How a hosted deploy's client may connect: to `base_url`'s origin only, and to public
    addresses unless the host is one the deployer listed."""

    base_url: str
    trusted_hosts: frozenset[str] = field(default_factory=frozenset)


class AddressBlocked(httpcore2.ConnectError):
    """A host resolved to an address a hosted deploy must not reach."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, which this deploy does not reach")
        self.host, self.address = host, address


class OtherHostBlocked(httpx2.TransportError):
    """A request (a redirect, usually) for another origin than the configured API's."""

    def __init__(self, host: str) -> None:
        super().__init__(f"a request for {host}, not the configured API, was refused")
        self.host = host


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to now, as the socket layer would connect to them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class GuardedBackend(httpcore2.NetworkBackend):
    """Opens TCP connections only to addresses the policy allows, resolving once per connection
    and connecting to exactly the address that was checked."""

    def __init__(self, trusted_hosts: Iterable[str] = (), resolve: Resolver = system_resolver,
                 inner: httpcore2.NetworkBackend | None = None) -> None:
        self._trusted = frozenset(h.lower() for h in trusted_hosts)
        self._resolve = resolve
        self._inner = inner or httpcore2.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore2.NetworkStream:
        """A connection to the first allowed address of `host` that answers."""
        name = host.strip("[]").rstrip(".").lower()
        trusted = name in self._trusted
        if not trusted and names_loopback(name):
            raise AddressBlocked(host, "127.0.0.1")
        try:
            addresses = self._resolve(host.strip("[]"), port)
        except OSError as exc:
            raise httpcore2.ConnectError(f"{host} could not be resolved") from exc
        if not trusted:
            for address in addresses:
                if not is_public(ipaddress.ip_address(address.split("%", 1)[0])):
                    raise AddressBlocked(host, address)  # one bad answer: the name is not safe
        error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout=timeout,
                                               local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore2.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable | None = None) -> httpcore2.NetworkStream:
        """Never: a hosted deploy talks TCP only."""
        raise AddressBlocked(path, "a unix socket")

    def sleep(self, seconds: float) -> None:
        """As the standard backend does."""
        self._inner.sleep(seconds)


class GuardedTransport(httpx2.HTTPTransport):
    """httpx2's transport with a `GuardedBackend` under its pool, refusing other origins."""

    def __init__(self, policy: NetworkPolicy, *, resolve: Resolver = system_resolver,
                 limits: httpx2.Limits | None = None,
                 inner: httpcore2.NetworkBackend | None = None) -> None:
        limits = limits or httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
        # No proxies from the environment: a proxy would be the only address ever checked.
        super().__init__(trust_env=False, limits=limits)
        self._allowed_origin = _origin(policy.base_url)
        # httpx2's transport takes no network backend, so its pool is rebuilt with one (the
        # same settings it was built with); tests/unit/test_netguard.py proves the guard acts.
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy.trusted_hosts, resolve, inner),
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send `request` if it is for the configured API's origin."""
        if _origin(request.url) != self._allowed_origin:
            raise OtherHostBlocked(request.url.host)
        return super().handle_request(request)


def blocked_reason(exc: BaseException | None) -> AddressBlocked | OtherHostBlocked | None:
    """The guard's refusal behind an exception (anywhere in its chain of causes), if any."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, AddressBlocked | OtherHostBlocked):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
