"""Drift: what a router's running config lacks or has beyond its rendered config (pure).

Both sides go through the shared line model, so the comparison is block-aware and order-free
and the volatile header is gone. Secrets are compared by presence only: a line that carries a
secret on both sides, the same but for the secret, is no drift; the router's own secret is
kept and never printed. A pinned tunnel (``policy.pin``) is expected to carry its pin, so a
pin is not drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nmops.ix import lines
from nmops.ix.lines import Config, Edit, Node
from nmops.ix.masking import MASK, mask_line

_PEER_PREFIX = "ikev2 peer"


@dataclass(frozen=True)
class PinnedPeer:
    """A tunnel switched from its peer's FQDN to the peer's literal address."""

    tunnel: str  # Tunnel1.0
    address: str  # the peer's address, as IX text


@dataclass(frozen=True)
class Drift:
    router: str
    edits: tuple[Edit, ...]  # the lines that converge the router, real secrets included
    pins: tuple[PinnedPeer, ...] = ()  # pins the desired config already holds
    # The lines only the router has, and only the rendered config has (secrets masked).
    removed: tuple[lines.Path, ...] = ()
    added: tuple[lines.Path, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.edits

    def shown(self) -> tuple[Edit, ...]:
        """The edits as they may be printed, logged or stored: secrets masked."""
        return tuple(masked(e) for e in self.edits)


def masked(edit: Edit) -> Edit:
    return Edit(tuple(mask_line(c) for c in edit.context), mask_line(edit.line))


def drift(
    router: str,
    running: Config | str,
    desired: Config | str,
    *,
    pins: Sequence[PinnedPeer] = (),
) -> Drift:
    """The edits that turn ``running`` into ``desired`` (with ``pins`` applied to it)."""
    have = lines.parse(running) if isinstance(running, str) else running
    want = lines.parse(desired) if isinstance(desired, str) else desired
    want = with_pins(want, pins)
    want = Config(_adopt_secrets(want.nodes, have.nodes))
    return Drift(
        router,
        tuple(lines.diff(have, want)),
        tuple(pins),
        removed=_shown_paths(have.paths - want.paths),
        added=_shown_paths(want.paths - have.paths),
    )


def _shown_paths(paths: Iterable[lines.Path]) -> tuple[lines.Path, ...]:
    return tuple(sorted(tuple(mask_line(p) for p in path) for path in paths))


def _adopt_secrets(want: tuple[Node, ...], have: tuple[Node, ...]) -> tuple[Node, ...]:
    """``want`` with each secret-bearing line that ``have`` holds the same but for its secret
    replaced by ``have``'s line: present on both sides is equal, whatever the value. A word
    ``want`` writes as the mask (a render without secrets) stands for any one word there."""
    theirs: dict[str, Node] = {}
    for node in have:
        shown = mask_line(node.line)
        if shown != node.line:
            theirs.setdefault(shown, node)
    by_line = {n.line: n for n in have}
    out = []
    for node in want:
        shown = mask_line(node.line)
        if shown in theirs:
            node = dataclasses.replace(node, line=theirs[shown].line)
        elif MASK in node.line.split():
            match = next((h for h in have if _fits(node.line, h.line)), None)
            if match is not None:
                node = dataclasses.replace(node, line=match.line)
        old = by_line.get(node.line)
        if node.block and old is not None:
            node = dataclasses.replace(node, children=_adopt_secrets(node.children, old.children))
        out.append(node)
    return tuple(out)


# How a secret is written (`password plain|secret|hash X`, `key char|hex X`): a router may
# show a typed `plain` password as `hash`, so the form belongs to the secret, not the line.
_FORMS = ({"plain", "secret", "hash"}, {"char", "hex"})


def _fits(pattern: str, line: str) -> bool:
    """``line`` is ``pattern`` with each masked word (and the form before it) filled in."""
    want, have = pattern.split(), line.split()
    if len(want) != len(have):
        return False
    for i, (w, h) in enumerate(zip(want, have, strict=True)):
        if w in (h, MASK):
            continue
        form = i + 1 < len(want) and want[i + 1] == MASK
        if not (form and any(w in f and h in f for f in _FORMS)):
            return False
    return True


def with_pins(config: Config, pins: Iterable[PinnedPeer]) -> Config:
    """``config`` with each pinned tunnel's peer line naming the pinned address instead of
    the FQDN (the rest of the line, the PSK identity, is kept)."""
    by_tunnel = {f"interface {p.tunnel}": p for p in pins}
    if not by_tunnel:
        return config
    nodes = []
    for node in config.nodes:
        pin = by_tunnel.get(node.line)
        if pin is not None and node.block:
            children = tuple(
                dataclasses.replace(c, line=pinned_line(c.line, pin.address))
                if c.line.startswith(_PEER_PREFIX)
                else c
                for c in node.children
            )
            node = dataclasses.replace(node, children=children)
        nodes.append(node)
    return Config(tuple(nodes))


def pinned_line(peer_line: str, address: str) -> str:
    """`ikev2 peer-fqdn-ipv6 FQDN authentication ...` -> `ikev2 peer ADDRESS authentication
    ...` (one key: the IX replaces the one with the other)."""
    words = peer_line.split()
    return " ".join(["ikev2", "peer", address, *words[3:]])


def unified(drift: Drift) -> list[str]:
    """A readable view: each block once, `-` for lines only the router has, `+` for lines
    only the rendered config has; secrets masked."""
    marked = sorted([(path, "-") for path in drift.removed] + [(path, "+") for path in drift.added])
    out: list[str] = []
    shown: set[lines.Path] = set()
    for path, sign in marked:
        for depth in range(len(path) - 1):
            header = path[: depth + 1]
            if header not in shown and (header, "-") not in marked and (header, "+") not in marked:
                out.append("  " * depth + header[-1])
                shown.add(header)
        out.append("  " * (len(path) - 1) + f"{sign} {path[-1]}")
        shown.add(path)
    return out
