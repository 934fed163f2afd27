"""Every kind of address a webhook must not reach has a reason (pure, no I/O)."""

from __future__ import annotations

import ipaddress

from services.notification.webhooks.ssrf import refusal


def test_every_kind_of_inside_address_has_a_reason() -> None:
    for address in (
        "127.0.0.1",
        "::1",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "224.0.0.251",
        "ff02::1",
        "fd12:3456::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
        "240.0.0.1",
    ):
        assert refusal(ipaddress.ip_address(address)) is not None, address
    for address in ("93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "::ffff:8.8.8.8"):
        assert refusal(ipaddress.ip_address(address)) is None, address
