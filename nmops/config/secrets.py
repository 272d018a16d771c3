"""Secrets as references: ``{env: VAR}`` or ``{file: PATH}``, read only when used, never shown."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nmops.errors import SecretError


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

    def reveal(self) -> str:
        """Read the secret now. Errors name the reference, never a value."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretError(f"secret {self.describe()}: environment variable is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretError(
                f"secret {self.describe()}: cannot read: {exc.strerror or exc}"
            ) from exc
