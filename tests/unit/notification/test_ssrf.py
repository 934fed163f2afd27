"""Every kind of address a webhook must not reach has a reason (pure, no I/O)."""

from __future__ import annotations

import ipaddress

import pytest

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


# Every special-use form, including each way of wrapping a private IPv4 address
# in IPv6 (issue 11, item 8: 38 of 44 were refused before).
REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "'this network'"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "shared (CGNAT)"),
    ("100.100.100.200", "metadata"),  # Alibaba Cloud
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),  # ECS task metadata
    ("169.254.0.1", "link-local"),
    ("172.16.0.1", "private"),
    ("192.0.0.9", "IETF protocol"),  # PCP anycast
    ("192.0.0.170", "IETF protocol"),  # NAT64 discovery
    ("192.0.2.1", "documentation"),
    ("192.31.196.1", "AS112"),
    ("192.52.193.1", "AMT"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("192.168.1.1", "private"),
    ("192.175.48.6", "AS112"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::10.0.0.1", "IPv4-compatible"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:0:127.0.0.1", "IPv4-translated"),
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 well-known prefix, 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("64:ff9b:1::a9fe:a9fe", "local-use NAT64"),  # metadata behind a local NAT64
    ("64:ff9b:1::808:808", "local-use NAT64"),
    ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
    ("2002:a9fe:a9fe::1", "metadata"),
    ("2002:7f00:1::1", "loopback"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "IETF protocol"),  # Teredo of 10.0.0.1
    ("2001:1::1", "IETF protocol"),  # PCP anycast
    ("2001:2::1", "IETF protocol"),  # benchmarking
    ("2001:20::1", "IETF protocol"),  # ORCHIDv2
    ("2001:db8::1", "documentation"),
    ("2620:4f:8000::1", "AS112"),
    ("3fff::1", "documentation"),
    ("100::1", "discard-only"),
    ("5f00::1", "SRv6 SID"),
    ("fc00::1", "unique-local"),
    ("fd00:ec2::254", "metadata"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("4000::1", "not a global unicast"),  # unallocated, outside 2000::/3
    ("1::1", "not a global unicast"),
]

ALLOWED = [
    "8.8.8.8",
    "93.184.216.34",
    "1.1.1.1",
    "2606:2800:220:1::1",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",  # mapped public IPv4
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_every_special_use_form_is_refused_with_its_reason(address: str, reason: str) -> None:
    why = refusal(ipaddress.ip_address(address))
    assert why is not None and reason in why, (address, why)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_table_has_the_issue_forms() -> None:
    assert len(REFUSED) >= 44
    listed = {ipaddress.ip_address(a) for a, _ in REFUSED}
    for form in ("::127.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b:1::a9fe:a9fe", "fec0::1"):
        assert ipaddress.ip_address(form) in listed
