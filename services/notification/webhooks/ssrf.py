"""Server-side request forgery guard: webhook endpoints must not reach any
special-use address (loopback, private, link-local, unique-local, multicast,
unspecified, documentation, reserved, translation prefixes...) or a cloud
metadata address, in any of the forms that wrap an IPv4 address in IPv6.

Checked when a subscription is created or changed (`check_endpoint`) and again
on every delivery, where the check sits inside the HTTP client itself: the
resolver refuses a host name with any forbidden address, and the socket factory
refuses to open a socket to one. aiohttp connects to exactly the addresses the
resolver returned, so the address checked is the address connected to (no
window for DNS rebinding between check and connect).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)

# Every special-purpose range of the IANA IPv4 and IPv6 Special-Purpose Address
# Registries (RFC 6890 and its updates), multicast, and the deprecated site-local
# range, whether or not the registry calls it globally reachable: a webhook has
# no business at an anycast relay or a documentation prefix either. First match
# names the reason, so narrower ranges come before the ranges holding them.
_SPECIAL_RANGES = (
    ("0.0.0.0/32", "an unspecified address"),
    ("0.0.0.0/8", "a 'this network' address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (CGNAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "an IETF protocol address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.31.196.0/24", "an AS112 address"),
    ("192.52.193.0/24", "an AMT address"),
    ("192.88.99.0/24", "a 6to4 relay anycast address"),
    ("192.168.0.0/16", "a private address"),
    ("192.175.48.0/24", "an AS112 address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("::/96", "an IPv4-compatible address"),
    ("::ffff:0:0:0/96", "an IPv4-translated address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("100::/64", "a discard-only address"),
    ("100:0:0:1::/64", "a dummy IPv6 prefix address"),
    ("2001::/23", "an IETF protocol address"),  # Teredo, ORCHID, AMT, benchmarking...
    ("2001:db8::/32", "a documentation address"),
    ("2620:4f:8000::/48", "an AS112 address"),
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "an SRv6 SID address"),
    ("fc00::/7", "a unique-local address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
)
_SPECIAL: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why) for net, why in _SPECIAL_RANGES
)
# Outside 2000::/3 nothing is allocated as global unicast.
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
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
    """Why an address is off limits, or None when it is a public unicast one.
    An IPv4 address wrapped in IPv6 (mapped, 6to4, NAT64) is judged as the IPv4
    address it reaches."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return refusal(embedded)
    if ip in _METADATA:
        return "a cloud metadata address"
    reason = next((why for net, why in _SPECIAL if ip in net), None)
    if reason is None and isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST_V6:
        reason = "not a global unicast address"
    if reason is None and not ip.is_global:
        # Python's own table as a second opinion (it follows the same registries).
        reason = "not a globally routable address"
    return reason


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.ipv4_mapped or ip.sixtofour


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
    url: str,
    allow_private: bool,
    resolver: AbstractResolver | None = None,
    dns_seconds: float = 5.0,
) -> URL:
    """The subscription-time check: shape, then every address the host resolves
    to, within `dns_seconds` (a name server that never answers must not hold
    the partner's request). Raises EndpointRefused."""
    parsed = check_url(url, allow_private)
    host = parsed.host or ""
    if allow_private or _literal(host) is not None:
        return parsed
    checked = CheckedResolver(allow_private, resolver)
    try:
        async with asyncio.timeout(dns_seconds):
            await checked.resolve(host, parsed.port or 443, socket.AF_UNSPEC)
    except TimeoutError:
        raise EndpointRefused(f"{host} did not resolve within {dns_seconds:g}s") from None
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
