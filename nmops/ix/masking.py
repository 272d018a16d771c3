"""Masking secrets in IX config lines before they are logged, shown or stored (pure)."""

from __future__ import annotations

import re

MASK = "****"

# Each pattern keeps its first group and replaces the secret that follows it. Unanchored, so a
# secret is masked wherever it stands: typed at a sub-mode prompt, echoed, or in a config dump.
_SECRET_PATTERNS = (
    re.compile(r"(\bpassword\s+(?:plain|secret|hash)\s+)\S+"),  # username, nm account
    re.compile(r"(\bkey\s+(?:char|hex)\s+)\S+"),  # IKEv2 PSK
    re.compile(r"(\bauthentication\s+password\s+\S+\s+)\S+"),  # PPP
    re.compile(r"(\b(?:secret-password|pre-shared-key)\s+(?:(?:char|hex|plain)\s+)?)\S+"),
    re.compile(r"(\bcommunity\s+)\S+"),  # SNMP
    # OSPF keys (`ip ospf authentication-key K`, `ip ospf message-digest-key 1 md5 K`), NTP
    # keys (`ntp authentication-key 1 md5 K`), a key or password as the last word
    # (`radius-server host A key K`, `neighbor A password K`): masked on sight, since a
    # secret left in clear is worse than a word masked that did not need it.
    re.compile(r"(\bauthentication-key\s+(?:\d+\s+md5\s+)?)\S+"),
    re.compile(r"(\bmessage-digest-key\s+\d+\s+md5\s+)\S+"),
    re.compile(r"(\bmd5\s+)(?!\*\*\*\*)\S+"),
    re.compile(r"(\bkey\s+)(?!(?:char|hex)\b)(?!\*\*\*\*)\S+(?=\s*$)"),
    re.compile(r"(\bpassword\s+)(?!(?:plain|secret|hash)\b)(?!\*\*\*\*)\S+(?=\s*$)"),
)


def mask_line(line: str) -> str:
    """``line`` with any secret it carries replaced by ``****``."""
    for pattern in _SECRET_PATTERNS:
        line = pattern.sub(lambda m: m.group(1) + MASK, line)
    return line


def mask_text(text: str) -> str:
    return "\n".join(mask_line(line) for line in text.split("\n"))


def mask_like(text: str, line: str) -> str:
    """``text`` (e.g. the router's error about ``line``) with ``line``'s secrets masked."""
    secrets = {
        word
        for word, masked in zip(line.split(), mask_line(line).split(), strict=False)
        if word != masked
    }
    for secret in secrets:
        # Whole words only: a short secret must not mangle the rest of the message.
        text = re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", MASK, text)
    return text
