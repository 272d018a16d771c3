"""Secrets as references: ``{env: VAR}`` or ``{file: PATH}``, read only when used, never shown."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from nmops.errors import SecretError
from nmops.files import read_text

SECRET_LIMIT = 65536  # bytes: a password or a key, not a disk image


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives. ``repr`` and ``str`` name the place, never the value."""

    env: str | None = None
    file: Path | None = field(default=None)

    def __post_init__(self) -> None:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret is {env: VAR} or {file: PATH}, exactly one of them")

    def describe(self) -> str:
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    __str__ = __repr__

    def check(self) -> None:
        """Fail now, as ``reveal`` would later, without reading the value: the variable is
        looked at, the file only opened (non-blocking, so a FIFO cannot hang the check)."""
        where = f"secret {self.describe()}"
        if self.env is not None:
            if self.env not in os.environ:
                raise SecretError(f"{where}: environment variable is not set")
            if not os.environ[self.env]:
                raise SecretError(f"{where}: environment variable is empty")
            return
        assert self.file is not None
        try:
            fd = os.open(self.file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise SecretError(f"{where}: cannot read: {exc.strerror or exc}") from None
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SecretError(f"{where}: cannot read: {os.strerror(errno.EISDIR)}")
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"{where}: cannot read: not a regular file")
        if info.st_size > SECRET_LIMIT:
            raise SecretError(f"{where}: larger than {SECRET_LIMIT} bytes: not a secret")
        if stat.S_ISREG(info.st_mode) and info.st_size == 0:
            raise SecretError(f"{where}: the file is empty")

    def reveal(self) -> str:
        """Read the secret now. Errors name the reference, never a value."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretError(f"secret {self.describe()}: environment variable is not set")
            return value
        assert self.file is not None
        try:
            # A regular file of sane size: a FIFO or /dev/zero must not hang or eat nmops.
            return read_text(self.file, SECRET_LIMIT).rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise SecretError(f"secret {self.describe()}: cannot read: {reason}") from None
