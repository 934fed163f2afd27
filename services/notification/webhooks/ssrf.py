"""Server-side request forgery guard: webhook endpoints must not reach loopback,
private, link-local, unique-local, multicast, unspecified or metadata addresses.

Checked when a subscription is created or changed (`check_endpoint`) and again
on every delivery, where the check sits inside the HTTP client itself: the
resolver refuses a host name with any forbidden address, and the socket factory
refuses to open a socket to one. aiohttp connects to exactly the addresses the
resolver returned, so the address checked is the address connected to (no
window for DNS rebinding between check and connect).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$",
    re.IGNORECASE,
)


class EndpointRefused(Exception):
    """The endpoint is not one we deliver to; `reason` says why, for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refusal(ip: IPAddress) -> str | None:
    """Why an address is off limits, or None when it is a public unicast one."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 is judged as the IPv4 address it reaches.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is None and ip.teredo is not None:
            embedded = ip.teredo[1]
        if embedded is not None:
            return refusal(embedded)
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL:
        return "a unique-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, allow_private: bool) -> URL:
    """Scheme and shape of an endpoint URL (no I/O). Raises EndpointRefused."""
    try:
        parsed = URL(url)
        host = parsed.raw_host
        parsed.port  # noqa: B018 (an out-of-range port only raises when read)
    except ValueError:  # UnicodeError (bad IDNA labels) included
        raise EndpointRefused("not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in schemes:
        raise EndpointRefused("must be an https:// URL")
    if not host or not parsed.is_absolute():
        raise EndpointRefused("must name a host")
    if parsed.user is not None or parsed.password is not None:
        raise EndpointRefused("must not carry credentials")
    if parsed.fragment:
        raise EndpointRefused("must not have a #fragment")
    literal = _literal(host)
    if literal is None and not _HOSTNAME.match(host):
        raise EndpointRefused("the host is not a valid host name")
    if literal is not None and not allow_private:
        reason = refusal(literal)
        if reason is not None:
            raise EndpointRefused(f"{literal} is {reason}")
    return parsed


class CheckedResolver(AbstractResolver):
    """Resolves with `inner` (the system resolver by default), then refuses the
    host when any of its addresses is off limits: one bad record is enough to
    be suspicious of a name."""

    def __init__(self, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self._allow_private = allow_private
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = aiohttp.ThreadedResolver()
        try:
            results = await self._inner.resolve(host, port, family)
        except (OSError, UnicodeError):
            raise EndpointRefused(f"{host} does not resolve") from None
        if not self._allow_private:
            for result in results:
                reason = refusal(ipaddress.ip_address(result["host"]))
                if reason is not None:
                    raise EndpointRefused(f"{host} resolves to {reason}")
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


async def check_endpoint(
    url: str, allow_private: bool, resolver: AbstractResolver | None = None
) -> URL:
    """The subscription-time check: shape, then every address the host resolves
    to. Raises EndpointRefused."""
    parsed = check_url(url, allow_private)
    if allow_private or _literal(parsed.host or "") is not None:
        return parsed
    checked = CheckedResolver(allow_private, resolver)
    await checked.resolve(parsed.host or "", parsed.port or 443, socket.AF_UNSPEC)
    return parsed


def make_connector(
    allow_private: bool,
    resolver: AbstractResolver | None = None,
    limit: int = 100,
    limit_per_host: int = 0,
) -> aiohttp.TCPConnector:
    """The delivery client's connector: resolves through CheckedResolver and
    checks each address again as its socket is opened (literal IPs skip the
    resolver). Its connections are pooled and kept alive between requests;
    `limit` bounds them in all, `limit_per_host` per receiving host (0: none)."""

    def checked_socket(addr_info: Any) -> socket.socket:
        family, type_, proto, _, address = addr_info
        if not allow_private:
            reason = refusal(ipaddress.ip_address(address[0]))
            if reason is not None:
                raise EndpointRefused(f"{address[0]} is {reason}")
        return socket.socket(family=family, type=type_, proto=proto)

    return aiohttp.TCPConnector(
        resolver=CheckedResolver(allow_private, resolver),
        limit=limit,
        limit_per_host=limit_per_host,
        socket_factory=checked_socket,
    )
