"""A simulated router's config: a mutable block tree with IX line semantics (pure).

IX applies each line at once: a line replaces the line it overrides (`hostname`, an
interface's `ip address` ...), `no LINE` removes, a block header opens (or creates) a block.
Rendering follows `show running-config`: two-space indent, `!` around blocks and between
groups of top-level lines with a different first word.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from nmops.ix.configtree import ConfigTree, Node, parse_config
from nmops.lab.ixsim import texts
from nmops.names import is_interface

# Block header -> the name inside the sub-mode prompt `HOST(config-NAME)# `. The interface,
# watch-group and ppp shapes are [C]; the others are guesses in the same style.
_BLOCKS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), prompt)
    for pattern, prompt in (
        (r"^interface (\S+)$", "{0}"),
        (r"^watch-group (\S+) (\d+)$", "watch-{0}-{1}"),
        (r"^ppp profile (\S+)$", "ppp-{0}"),
        (r"^ip router ospf (\d+)$", "router-ospf"),
        (r"^ipv6 router ospf (\d+)$", "router-ospf6"),
        (r"^ikev2 default-profile$", "ikev2-default-profile"),
        (r"^ikev2 profile (\S+)$", "ikev2-profile-{0}"),
        (r"^ip dhcp profile (\S+)$", "dhcp-{0}"),
        (r"^ipv6 dhcp client-profile (\S+)$", "dhcp6c-{0}"),
        (r"^ipv6 dhcp server-profile (\S+)$", "dhcp6s-{0}"),
        (r"^route-map (\S+) (permit|deny) (\d+)$", "route-map-{0}-{1}-{2}"),
    )
)

# Lines that override each other share a key; any other line is its own key.
_KEYS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"^hostname\b", "hostname"),
        (r"^timezone\b", "timezone"),
        (r"^nm account\b", "nm account"),
        (r"^nm sitename\b", "nm sitename"),
        (r"^nm ddns hostname\b", "nm ddns hostname"),
        # One notify interface per family.
        (r"^nm ddns notify interface \S+ protocol (\S+)", "nm ddns notify {0}"),
        (r"^(no )?shutdown$", "shutdown"),
        (r"^(no )?ip address\b", "ip address"),
        (r"^ip unnumbered\b", "ip address"),
        (r"^tunnel mode\b", "tunnel mode"),
        (r"^ppp binding\b", "ppp binding"),
        (r"^description\b", "description"),
        (r"^ip mtu\b", "ip mtu"),
        (r"^ip ospf cost\b", "ip ospf cost"),
        (r"^ip tcp adjust-mss\b", "ip tcp adjust-mss"),
        (r"^ipv6 dhcp client\b", "ipv6 dhcp client"),
        (r"^ikev2 peer\b|^ikev2 peer-fqdn-ipv[46]\b", "ikev2 peer"),
        (r"^ikev2 connect-type\b", "ikev2 connect-type"),
        (r"^ikev2 outgoing-interface\b", "ikev2 outgoing-interface"),
        (r"^local-authentication\b", "local-authentication"),
    )
)
# Inside an interface these negations are themselves config lines (`no shutdown`).
_STORED_NEGATIONS = frozenset({"shutdown", "ip address"})


def _group(line: str) -> str:
    """Top-level lines print in runs separated by `!`; a run shares its first word."""
    word = line.split(" ", 1)[0]
    return "system" if word in ("hostname", "timezone") else word


def line_key(line: str) -> str:
    for pattern, key in _KEYS:
        match = pattern.search(line)
        if match is not None:
            return key.format(*match.groups())
    return line


def block_prompt(header: str) -> str | None:
    """The sub-mode name for a block header line, or None when the line opens no block."""
    for pattern, template in _BLOCKS:
        match = pattern.match(header)
        if match is not None:
            if template == "{0}" and not is_interface(match[1]):
                return None
            return template.format(*match.groups())
    return None


class Outcome(enum.Enum):
    APPLIED = "applied"
    ENTERED = "entered"  # a block header: the session moves into the block
    INVALID = "invalid"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    block: str | None = None  # the block entered (ENTERED) or still current (APPLIED)
    word: str = ""  # the rejected word (INVALID)


@dataclass
class Entry:
    line: str
    children: list[str] | None = None  # None: a plain top-level line


@dataclass
class RunningConfig:
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str) -> RunningConfig:
        config = cls()
        for node in parse_config(text):
            is_block = node.is_block or block_prompt(node.line) is not None
            config.entries.append(Entry(node.line, list(node.children) if is_block else None))
        return config

    def copy(self) -> RunningConfig:
        return RunningConfig(
            [Entry(e.line, None if e.children is None else list(e.children)) for e in self.entries]
        )

    def to_tree(self) -> ConfigTree:
        return ConfigTree(tuple(Node(e.line, tuple(e.children or ())) for e in self.entries))

    def render(self) -> str:
        """The body of `show running-config` (no `!` header)."""
        out: list[str] = []
        previous: Entry | None = None
        for entry in self.entries:
            if entry.children is not None:
                if out and out[-1] != "!":
                    out.append("!")
                out.append(entry.line)
                out.extend(f"  {child}" for child in entry.children)
                out.append("!")
            else:
                if (
                    previous is not None
                    and previous.children is None
                    and _group(previous.line) != _group(entry.line)
                ):
                    out.append("!")
                out.append(entry.line)
            previous = entry
        if out and out[-1] != "!":
            out.append("!")
        return "".join(f"{line}\n" for line in out)

    # --- queries ------------------------------------------------------------------------

    def top_lines(self) -> Iterator[str]:
        return (e.line for e in self.entries if e.children is None)

    def block(self, header: str) -> list[str] | None:
        for entry in self.entries:
            if entry.line == header and entry.children is not None:
                return entry.children
        return None

    def blocks(self, prefix: str) -> Iterator[tuple[str, list[str]]]:
        for entry in self.entries:
            if entry.children is not None and entry.line.startswith(prefix):
                yield entry.line, entry.children

    def value(self, prefix: str) -> str | None:
        """The rest of the first top-level line starting with ``prefix`` + space."""
        for line in self.top_lines():
            if line.startswith(prefix + " "):
                return line[len(prefix) + 1 :]
        return None

    @property
    def hostname(self) -> str:
        return self.value("hostname") or "Router"

    # --- changes ------------------------------------------------------------------------

    def apply(self, line: str, block: str | None) -> Applied:
        """Apply one config line typed at the top level (``block`` None) or inside a block."""
        words = line.split()
        keywords = texts.TOP_KEYWORDS if block is None else texts.BLOCK_KEYWORDS
        # A block header typed inside another block switches block, as on the router.
        if block_prompt(line) is not None:
            self._open_block(line)
            return Applied(Outcome.ENTERED, line)
        if words[0] not in keywords and not (block is not None and words[0] in texts.TOP_KEYWORDS):
            return Applied(Outcome.INVALID, block, words[0])
        if len(words) == 1 and words[0] not in texts.STANDALONE:
            return Applied(Outcome.INCOMPLETE, block)
        if words[0] == "interface":
            return Applied(Outcome.INVALID, block, words[1])  # not a block header: bad name
        if words[0] == "no" and words[1] not in keywords | texts.TOP_KEYWORDS:
            return Applied(Outcome.INVALID, block, words[1])
        if block is not None and words[0] not in texts.BLOCK_KEYWORDS:
            # A top-level line typed in a block applies at the top and leaves the block.
            block = None
        if words[0] == "no":
            self._negate(" ".join(words[1:]), block)
        elif block is None:
            self._set_top(" ".join(words))
        else:
            self._set_child(block, " ".join(words))
        return Applied(Outcome.APPLIED, block)

    def _open_block(self, header: str) -> None:
        if self.block(header) is not None:
            return
        entry = Entry(header, [])
        kind = header.split(" ", 1)[0]
        same = [
            i
            for i, e in enumerate(self.entries)
            if e.children is not None and e.line.split(" ", 1)[0] == kind
        ]
        if same:
            self.entries.insert(same[-1] + 1, entry)
        elif kind != "interface":
            self.entries.insert(self._before_interfaces(), entry)
        else:
            self.entries.append(entry)

    def _before_interfaces(self) -> int:
        for index, entry in enumerate(self.entries):
            if entry.children is not None and entry.line.startswith("interface "):
                return index
        return len(self.entries)

    def _set_top(self, line: str) -> None:
        key = line_key(line)
        for entry in self.entries:
            if entry.children is None and line_key(entry.line) == key:
                entry.line = line
                return
        group = _group(line)
        same = [
            i for i, e in enumerate(self.entries) if e.children is None and _group(e.line) == group
        ]
        index = same[-1] + 1 if same else self._before_interfaces()
        self.entries.insert(index, Entry(line))

    def _set_child(self, block: str, line: str) -> None:
        children = self.block(block)
        if children is None:  # the block was removed under this session's feet
            self._open_block(block)
            children = self.block(block)
            assert children is not None
        key = line_key(line)
        for index, child in enumerate(children):
            if line_key(child) == key:
                children[index] = line
                return
        children.append(line)

    def _negate(self, rest: str, block: str | None) -> None:
        if block_prompt(rest) is not None:
            self.entries = [
                e for e in self.entries if not (e.children is not None and e.line == rest)
            ]
            return
        if block is None:
            plain = [e.line for e in self.entries if e.children is None]
            keep = set(_remove(plain, rest))
            self.entries = [e for e in self.entries if e.children is not None or e.line in keep]
            return
        children = self.block(block)
        if children is None:
            return
        key = line_key(rest)
        if block.startswith("interface ") and key in _STORED_NEGATIONS:
            children[:] = [c for c in children if line_key(c) != key]
            children.append(f"no {key}")
            return
        children[:] = _remove(children, rest)


def _remove(lines: list[str], rest: str) -> list[str]:
    """`no REST`: drop the exact line, else the line REST overrides, else lines it prefixes.
    Removing what is not there is silently accepted."""
    if rest in lines:
        return [line for line in lines if line != rest]
    key = line_key(rest)
    if key != rest:
        kept = [line for line in lines if line_key(line) != key]
        if len(kept) != len(lines):
            return kept
    return [line for line in lines if not line.startswith(rest + " ")]
