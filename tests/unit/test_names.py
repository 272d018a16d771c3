"""Names that end up in DNS queries or router commands: strict syntax, no whitespace or control
characters anywhere (a trailing newline especially: ``$`` in a regex matches before one)."""

from __future__ import annotations

import pytest

from nmops.names import check_domain, check_interface, check_label, check_printable


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("ix2215-tokyo", "ix2215-tokyo"),
        ("IX2215-Tokyo", "ix2215-tokyo"),
        ("a", "a"),
        ("0", "0"),
        ("a" * 63, "a" * 63),
        ("x1-2-3y", "x1-2-3y"),
    ],
)
def test_label_ok(value: str, canonical: str) -> None:
    assert check_label(value) == canonical


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 64,
        "-tokyo",
        "tokyo-",
        "ix2215_tokyo",
        "ix2215.tokyo",
        "ix 2215",
        " tokyo",
        "tokyo ",
        "tokyo\n",  # a YAML block scalar leaves this
        "\ntokyo",
        "tok\nyo",
        "tokyo\r\n",
        "tokyo\t",
        "tokyo\x00",
        "tokyo\x7f",
        "tōkyō",
        "\u017f",  # LATIN SMALL LETTER LONG S: matches [a-z] under re.IGNORECASE
        "\u212a",  # KELVIN SIGN: matches [a-z] under re.IGNORECASE
        "ix\u2215tokyo",
    ],
)
def test_label_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="is not a DNS label"):
        check_label(value)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("nmddns.jp", "nmddns.jp"),
        ("NMDDNS.JP.", "nmddns.jp"),
        ("v6.nmddns.jp", "v6.nmddns.jp"),
        ("jp", "jp"),
    ],
)
def test_domain_ok(value: str, canonical: str) -> None:
    assert check_domain(value) == canonical


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "nmddns..jp",
        ".nmddns.jp",
        "nmddns.jp\n",
        "nmddns.jp.\n",
        "nm ddns.jp",
        "nmddns_x.jp",
        "nmddns.\u212aj",
        ("a" * 63 + ".") * 4 + "jp",  # > 253 characters
    ],
)
def test_domain_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="is not a domain name"):
        check_domain(value)


@pytest.mark.parametrize(
    "value",
    [
        "GigaEthernet0.1",
        "GigaEthernet2.0",
        "GigaEthernet0",
        "GigaEthernet1.0",
        "FastEthernet0/0.1",
        "TenGigaEthernet0.0",
        "Tunnel1.0",
        "Loopback0.0",
        "BVI1",
        "Dialer1",
        "Null0",
        "USB-Ethernet0.0",
    ],
)
def test_interface_ok(value: str) -> None:
    assert check_interface(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "GigaEthernet2.O",  # letter O, the typo the issue quotes
        "GigaEthernet",
        "gigaethernet0.1",
        "Gi0.1",
        "GigaEthernet0.1.2.3",
        "GigaEthernet0.1 ",
        " GigaEthernet0.1",
        "GigaEthernet0.1\n",  # would end the router command early
        "GigaEthernet0.1\nreload",
        "GigaEthernet0.1;reload",
        "GigaEthernet\u0660.1",  # ARABIC-INDIC DIGIT ZERO: matches \\d without re.ASCII
    ],
)
def test_interface_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="is not an IX interface name"):
        check_interface(value)


@pytest.mark.parametrize("value", ["tokyo", "Tokyo office", "東京", "a-b_c.d"])
def test_printable_ok(value: str) -> None:
    assert check_printable(value) == value


@pytest.mark.parametrize(
    "value", ["tokyo\n", "to\nkyo", " tokyo", "tokyo ", "a\tb", "a\x00b", "a\x1bb", "a\x7fb"]
)
def test_printable_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="contains whitespace or control characters") as info:
        check_printable(value, "site")
    assert str(info.value).startswith("site ")
    assert repr(value) in str(info.value)
