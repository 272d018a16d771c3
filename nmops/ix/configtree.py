"""IX configuration as a tree of blocks (pure).

An IX config is a sequence of top-level lines; a line that opens a block (``interface X``,
``watch-group NAME N``, ``ip router ospf 1`` ...) owns the two-space indented lines under it.
``!`` separates groups and carries no meaning; the ``!`` comment header that ``show
running-config`` prints (firmware, ``Current time``) is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    """One top-level line and, when it opens a block, the lines inside it (order kept)."""

    line: str
    children: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_block(self) -> bool:
        return bool(self.children)


@dataclass(frozen=True)
class ConfigTree:
    """A whole config: top-level nodes in the order the router printed them."""

    nodes: tuple[Node, ...] = ()

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def find(self, line: str) -> Node | None:
        """The first node whose top-level line is exactly ``line``."""
        for node in self.nodes:
            if node.line == line:
                return node
        return None

    def lines(self) -> Iterator[tuple[str | None, str]]:
        """Every line as ``(block header or None, line)``: top-level lines have no header."""
        for node in self.nodes:
            yield None, node.line
            for child in node.children:
                yield node.line, child


def parse_config(text: str) -> ConfigTree:
    """Parse ``show running-config`` / ``show config`` output into a tree.

    Comment lines (``!`` and ``! ...``) and blank lines are dropped; an indented line belongs to
    the last top-level line before it.
    """
    nodes: list[Node] = []
    header: str | None = None
    children: list[str] = []

    def flush() -> None:
        if header is not None:
            nodes.append(Node(header, tuple(children)))

    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if line[0].isspace():
            if header is None:
                # An indented line with no block above it: keep it rather than lose it.
                nodes.append(Node(stripped))
                continue
            children.append(stripped)
            continue
        flush()
        header, children = stripped, []
    flush()
    return ConfigTree(tuple(nodes))
