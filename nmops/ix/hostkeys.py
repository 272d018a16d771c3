"""Pinned SSH host keys: a known_hosts file that nmops keeps (OpenSSH format).

An unknown key is refused with a message that says to run ``nmops trust ROUTER``; a changed
key is refused as an error, never accepted silently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from nmops.errors import RouterError
from nmops.files import read_text

log = logging.getLogger(__name__)

KNOWN_HOSTS_LIMIT = 16 * 1024 * 1024  # bytes: keys for many thousands of routers

HOST_KEY_ALGS = ["ssh-rsa"]  # what the IX offers (SHA-1 RSA); allowed explicitly
# AES-GCM/CTR first: far cheaper than chacha20-poly1305 in asyncssh (which builds its cipher
# objects per packet), and what IX firmware offers; the rest stay as fallbacks.
ENCRYPTION_ALGS = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
    "chacha20-poly1305@openssh.com",
]


class UnknownHostKey(RouterError):
    pass


class ChangedHostKey(RouterError):
    pass


def host_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class PinnedKey:
    pattern: str
    key: asyncssh.SSHKey
    text: str  # as written in the file: `ssh-rsa AAAA...`

    @property
    def fingerprint(self) -> str:
        return str(self.key.get_fingerprint("sha256"))


class KnownHosts:
    """The file of pinned keys (created on first ``pin``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Read once per run (not once per connection: hundreds of routers share the file),
        # and again only when the file changes.
        self._cache: tuple[float, list[tuple[str, str]]] | None = None

    def _entries(self) -> list[tuple[str, str]]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return []
        if self._cache is not None and self._cache[0] == mtime:
            return self._cache[1]
        out = []
        for raw in read_text(self.path, KNOWN_HOSTS_LIMIT).splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                pattern, _, key = line.partition(" ")
                out.append((pattern, key.strip()))
        self._cache = (mtime, out)
        return out

    def lookup(self, host: str, port: int) -> PinnedKey | None:
        """The key pinned for ``host:port``; a file or line that cannot be read raises
        RouterError naming the file (never a traceback)."""
        pattern = host_pattern(host, port)
        try:
            for entry_pattern, key in self._entries():
                if pattern in entry_pattern.split(","):
                    return PinnedKey(pattern, asyncssh.import_public_key(key), key)
        except (OSError, UnicodeDecodeError, asyncssh.KeyImportError) as exc:
            raise RouterError(
                f"{self.path}: cannot read the pinned key for {pattern}: {exc}"
            ) from exc
        return None

    def trusted_for(self, host: str, port: int) -> asyncssh.SSHKnownHosts:
        """What asyncssh may accept for this host: its pinned key alone, or nothing."""
        pinned = self.lookup(host, port)
        line = f"{pinned.pattern} {pinned.text}\n" if pinned is not None else ""
        return asyncssh.import_known_hosts(line)

    def pin(self, host: str, port: int, key: asyncssh.SSHKey, *, replace: bool = False) -> str:
        """Pin ``key``: returns "pinned", "already pinned" or "replaced"; a different pinned
        key without ``replace`` raises ChangedHostKey."""
        pattern = host_pattern(host, port)
        existing = self.lookup(host, port)
        new_line = f"{pattern} {key.export_public_key('openssh').decode().strip()}"
        if existing is not None:
            if existing.key.public_data == key.public_data:
                return "already pinned"
            if not replace:
                raise ChangedHostKey(
                    f"CHANGED (pinned {existing.fingerprint}); not replaced without --replace"
                )
        kept = [f"{p} {k}" for p, k in self._entries() if pattern not in p.split(",")]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join([*kept, new_line]) + "\n", encoding="utf-8")
        self._cache = None
        log.info("pinned host key %s for %s", key.get_fingerprint("sha256"), pattern)
        return "replaced" if existing is not None else "pinned"

    def verify_failure(self, host: str, port: int, exc: Exception) -> RouterError:
        """Turn asyncssh's refusal into the error a person can act on."""
        pinned = self.lookup(host, port)
        pattern = host_pattern(host, port)
        if pinned is None:
            return UnknownHostKey(
                f"{pattern}: host key not known; check it and run `nmops trust ROUTER`"
            )
        return ChangedHostKey(
            f"{pattern}: HOST KEY CHANGED (pinned {pinned.fingerprint}); refusing to connect. "
            f"Someone may be impersonating the router, or it was replaced: verify, then "
            f"`nmops trust ROUTER --replace` ({exc})"
        )


async def fetch_host_key(host: str, port: int, timeout: float) -> asyncssh.SSHKey:
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(
                host, port, server_host_key_algs=HOST_KEY_ALGS, config=None
            ),
            timeout,
        )
    except (OSError, TimeoutError, asyncssh.Error) as exc:
        raise RouterError(f"cannot fetch: {str(exc) or type(exc).__name__}") from exc
    if key is None:
        raise RouterError(f"{host_pattern(host, port)}: the server offered no host key")
    return key
