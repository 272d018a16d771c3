"""Masking secrets in IX config lines before they are logged, shown or stored (pure)."""

from __future__ import annotations

import re

MASK = "****"

# Each pattern keeps its first group and replaces the secret that follows it.
_SECRET_PATTERNS = (
    re.compile(r"^(\s*(?:no\s+)?nm account \S+ password (?:plain|secret) )\S+"),
    re.compile(r"^(\s*(?:no\s+)?username \S+ password (?:plain|hash|secret) )\S+"),
    re.compile(r"^(\s*(?:no\s+)?ikev2 authentication psk id \S+ \S+ key (?:char|hex) )\S+"),
    re.compile(r"^(\s*(?:no\s+)?authentication password \S+ )\S+"),
    re.compile(r"^(\s*(?:no\s+)?(?:pre-shared-key|secret-password) (?:char |hex |plain )?)\S+"),
    re.compile(r"^(\s*(?:no\s+)?snmp-agent community \S+ )\S+"),
)


def mask_line(line: str) -> str:
    """``line`` with any secret it carries replaced by ``****``."""
    for pattern in _SECRET_PATTERNS:
        masked, count = pattern.subn(lambda m: m.group(1) + MASK, line)
        if count:
            return masked
    return line


def mask_text(text: str) -> str:
    return "\n".join(mask_line(line) for line in text.split("\n"))


def has_secret(line: str) -> bool:
    return mask_line(line) != line
