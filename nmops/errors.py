"""One exception root for nmops; subclasses by domain."""

from __future__ import annotations


class NmopsError(Exception):
    """Root of every error nmops raises on purpose."""


class ConfigError(NmopsError):
    """The configuration is invalid; ``problems`` lists every finding, each already located."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class SecretError(NmopsError):
    """A secret reference could not be resolved (the message never contains the value)."""


class DnsError(NmopsError):
    """DNS could not be asked at all (e.g. the zone's servers could not be discovered)."""


class RouterError(NmopsError):
    """A router could not be reached or refused what it was asked."""
