"""Masking secrets in IX config lines before they are logged, shown or stored (pure)."""

from __future__ import annotations

import pytest

from nmops.ix.masking import MASK, mask_like, mask_line, mask_text

PSK = "ix2215-tokyo-psk"
NM = "password-fetburner"
PPP = "password-1"

# (line, masked): every kind of secret the IX config carries, as typed, as shown in a config
# dump (sub-mode lines indented), undone with `no`, and echoed after a prompt.
MASKED = [
    # NetMeister account
    (f"nm account fetburner password plain {NM}", "nm account fetburner password plain ****"),
    (f"no nm account fetburner password plain {NM}", "no nm account fetburner password plain ****"),
    ("nm account plain password plain plain", "nm account plain password plain ****"),
    # Local users: the secret sits between other words
    (
        "username admin password plain s3cret administrator",
        "username admin password plain **** administrator",
    ),
    (
        "username admin password hash 0123ABCDEF administrator",
        "username admin password hash **** administrator",
    ),
    ("username admin password secret xyz", "username admin password secret ****"),
    ("no username admin password plain s3cret", "no username admin password plain ****"),
    # IKEv2 pre-shared keys, character and hex
    (
        f"ikev2 authentication psk id keyid ix2215-tokyo key char {PSK}",
        "ikev2 authentication psk id keyid ix2215-tokyo key char ****",
    ),
    (
        "ikev2 authentication psk id keyid ix2215-tokyo key hex 0a0b0c0d0e0f",
        "ikev2 authentication psk id keyid ix2215-tokyo key hex ****",
    ),
    (
        f"no ikev2 authentication psk id keyid ix2215-tokyo key char {PSK}",
        "no ikev2 authentication psk id keyid ix2215-tokyo key char ****",
    ),
    (
        f"  ikev2 authentication psk id fqdn tokyo.example key char {PSK}",
        "  ikev2 authentication psk id fqdn tokyo.example key char ****",
    ),
    # PPP (under `ppp profile`: indented in a config dump)
    (
        f"  authentication password user-A@example.com {PPP}",
        "  authentication password user-A@example.com ****",
    ),
    (
        f"authentication password user-A@example.com {PPP}",
        "authentication password user-A@example.com ****",
    ),
    (
        f"  no authentication password user-A@example.com {PPP}",
        "  no authentication password user-A@example.com ****",
    ),
    # secret-password and pre-shared-key, with and without a format word
    ("  secret-password s3cr3t", "  secret-password ****"),
    ("  secret-password plain s3cr3t", "  secret-password plain ****"),
    ("  secret-password hex 0a0b", "  secret-password hex ****"),
    ("no secret-password s3cr3t", "no secret-password ****"),
    ("  pre-shared-key char abc123", "  pre-shared-key char ****"),
    ("  pre-shared-key abc123", "  pre-shared-key ****"),
    # SNMP communities
    ("snmp-agent ip community public", "snmp-agent ip community ****"),
    ("snmp-agent ip community public 192.0.2.1", "snmp-agent ip community **** 192.0.2.1"),
    ("no snmp-agent ip community public", "no snmp-agent ip community ****"),
    # Echoed after a prompt (what a transcript of a session shows)
    (
        f"ix2215-tokyo(config)# nm account fetburner password plain {NM}",
        "ix2215-tokyo(config)# nm account fetburner password plain ****",
    ),
    (
        f"ix2215-tokyo(config-ppp)# authentication password user-A@example.com {PPP}",
        "ix2215-tokyo(config-ppp)# authentication password user-A@example.com ****",
    ),
]

UNCHANGED = [
    "",
    "!",
    "hostname ix2215-tokyo",
    "interface GigaEthernet0.1",
    "  ip address ipcp",
    "show running-config",
    "ppp profile flets-v4",
    "  authentication myname user-A@example.com",
    "ikev2 authentication psk id keyid ix2215-kagawa",
    "  local-authentication psk id keyid ix2215-tokyo",
    "  ikev2 peer-fqdn-ipv4 ix2215-kagawa.fetburner.nmddns.jp authentication psk id keyid x",
    "nm ddns notify interface GigaEthernet0.1 protocol ip",
    "nm ip enable",
    "no nm account fetburner",
    "no username admin",
    "  no ip address",
    "% Invalid input detected at '^' marker.",
    "username admin password plain",  # nothing after the keyword: nothing to mask
    "Enter configuration commands, one per line.",
]


@pytest.mark.parametrize(("line", "masked"), MASKED)
def test_mask_line_masks_the_secret(line: str, masked: str) -> None:
    got = mask_line(line)
    assert got == masked
    assert MASK in got
    assert mask_line(got) == got  # masking twice changes nothing


@pytest.mark.parametrize("line", UNCHANGED)
def test_mask_line_leaves_lines_without_secrets(line: str) -> None:
    assert mask_line(line) == line


def test_mask_text_masks_every_line_and_keeps_the_rest() -> None:
    lines = [line for line, _ in MASKED] + UNCHANGED
    masked = [m for _, m in MASKED] + UNCHANGED
    assert mask_text("\n".join(lines)) == "\n".join(masked)
    for secret in (NM, PSK, PPP, "s3cret", "s3cr3t", "public", "0a0b0c0d0e0f"):
        assert secret not in mask_text("\n".join(lines))


@pytest.mark.parametrize(
    "line",
    [
        # The IX reads words separated by any run of spaces; a line typed (or generated) with
        # two spaces before the secret must not reach a transcript in the clear.
        f"nm account fetburner password plain  {NM}",
        f"nm account fetburner password  plain {NM}",
        f"ikev2 authentication psk id keyid ix2215-tokyo key char  {PSK}",
        f"ikev2 authentication psk id keyid ix2215-tokyo key  char {PSK}",
        f"authentication password user-A@example.com  {PPP}",
        "snmp-agent ip community  public",
    ],
)
def test_mask_line_whatever_the_spacing(line: str) -> None:
    got = mask_line(line)
    for secret in (NM, PSK, PPP, "public"):
        assert secret not in got, f"{secret!r} left in {got!r}"


# (router error, the line it is about, what may be shown)
LIKE = [
    # The router repeats the offending word, which is the secret itself.
    (
        f"% Invalid input: {NM}",
        f"nm account fetburner password plain {NM}",
        "% Invalid input: ****",
    ),
    (
        f"% key {PSK} is too long",
        f"ikev2 authentication psk id keyid ix2215-tokyo key char {PSK}",
        "% key **** is too long",
    ),
    (
        f"% bad password '{PPP}' for user-A@example.com",
        f"  authentication password user-A@example.com {PPP}",
        "% bad password '****' for user-A@example.com",
    ),
    (
        "% Unknown community 'public', 'public' again",
        "snmp-agent ip community public",
        "% Unknown community '****', '****' again",
    ),
    # Unrelated text: unchanged, whatever the line carried.
    (
        "% Invalid input detected at '^' marker.",
        f"nm account fetburner password plain {NM}",
        "% Invalid input detected at '^' marker.",
    ),
    (
        "% nm account fetburner: too many accounts",
        f"nm account fetburner password plain {NM}",
        "% nm account fetburner: too many accounts",
    ),
    # A line without secrets masks nothing, even words the error shares with it.
    (
        "% ix2215-tokyo: no such interface GigaEthernet0.1",
        "hostname ix2215-tokyo",
        "% ix2215-tokyo: no such interface GigaEthernet0.1",
    ),
    ("", f"nm account fetburner password plain {NM}", ""),
]


@pytest.mark.parametrize(("error", "line", "shown"), LIKE)
def test_mask_like(error: str, line: str, shown: str) -> None:
    assert mask_like(error, line) == shown


@pytest.mark.parametrize(
    "line",
    [
        "  ip ospf authentication-key S3CRET",
        "  ip ospf message-digest-key 1 md5 S3CRET",
        "ntp authentication-key 1 md5 S3CRET",
        "radius-server host 10.0.0.1 key S3CRET",
        "  neighbor 10.0.0.2 password S3CRET",
        "no   neighbor 10.0.0.2 password S3CRET",
    ],
)
def test_other_secret_forms_are_masked_too(line: str) -> None:
    assert "S3CRET" not in mask_line(line)
    assert mask_line(line).endswith(MASK)
