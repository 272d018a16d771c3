"""Which published addresses can be a router's public address (``bogus_reason``)."""

from __future__ import annotations

import ipaddress

import pytest

from nmops.dns.addresses import bogus_reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # RFC 1918 and other private IPv4
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("198.18.0.1", "private"),  # benchmarking
        # loopback
        ("127.0.0.1", "loopback"),
        ("127.1.2.3", "loopback"),
        ("::1", "loopback"),
        # link-local
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        # ULA
        ("fc00::1", "unique local (ULA)"),
        ("fd12:3456:789a::1", "unique local (ULA)"),
        # CGNAT, RFC 6598: not private, not global either
        ("100.64.0.1", "CGNAT (shared address space)"),
        ("100.127.255.254", "CGNAT (shared address space)"),
        # multicast
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        # unspecified
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        # IPv4-mapped IPv6 is never a DDNS registration
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        # documentation, not allowed by default
        ("192.0.2.1", "documentation range"),
        ("198.51.100.20", "documentation range"),
        ("203.0.113.10", "documentation range"),
        ("2001:db8::1", "documentation range"),
        ("2001:db8:ffff::1", "documentation range"),
        ("3fff::1", "documentation range"),  # RFC 9637
    ],
)
def test_bogus(address: str, reason: str) -> None:
    assert bogus_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "133.242.0.1",
        "172.32.0.1",  # just past 172.16.0.0/12
        "100.128.0.1",  # just past 100.64.0.0/10
        "192.169.0.1",
        "2001:4860:4860::8888",
        "2400:4050:1:2::1",  # NTT FLET'S IPv6 IPoE style
        "240b:10:2480:b100::1",
        "2606:4700:4700::1111",
    ],
)
def test_global_addresses_are_ok(address: str) -> None:
    addr = ipaddress.ip_address(address)
    assert bogus_reason(addr) is None
    assert bogus_reason(addr, allow_documentation=True) is None


@pytest.mark.parametrize(
    "address",
    ["192.0.2.1", "198.51.100.20", "203.0.113.255", "2001:db8::1", "3fff:fff::1"],
)
def test_documentation_allowed_in_labs(address: str) -> None:
    assert bogus_reason(ipaddress.ip_address(address), allow_documentation=True) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private"),
        ("fd00::1", "unique local (ULA)"),
        ("127.0.0.1", "loopback"),
        ("100.64.0.1", "CGNAT (shared address space)"),
        ("fe80::1", "link-local"),
    ],
)
def test_allow_documentation_allows_nothing_else(address: str, reason: str) -> None:
    assert bogus_reason(ipaddress.ip_address(address), allow_documentation=True) == reason


@pytest.mark.parametrize("address", ["240.0.0.1", "255.255.255.255", "64:ff9b::1"])
def test_other_special_ranges_are_bogus(address: str) -> None:
    # The exact word depends on the Python version's tables; that it is bogus does not.
    assert bogus_reason(ipaddress.ip_address(address)) is not None


def test_neighbours_of_documentation_ranges_are_global() -> None:
    assert bogus_reason(ipaddress.ip_address("192.0.3.1")) is None
    assert bogus_reason(ipaddress.ip_address("203.0.114.1")) is None
    assert bogus_reason(ipaddress.ip_address("2001:db9::1")) is None
