"""The model of IX config lines (pure): nesting, override keys, negation, saved or not.

One set of rules for everything that reasons about an IX config: ``check`` (is the running
config saved?), the simulator (what a typed line does to its config), ``fix`` (the undo of a
step) and ``peers diff`` (the lines that converge a router). The rules are data, each with the
evidence for it in IX-CLI.md's terms: [C] seen on a device or vendor page, [code] from code
that runs against real devices, [?] a guess in the same style.

A config is a tree: a line that opens a block (``interface X``, ``router bgp N``) owns the
lines indented under it, and a block can hold blocks (``router bgp N`` > ``address-family``,
``policy-map P`` > ``class C``). Order never matters; where a line sits does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

INDENT = "  "  # [C] two spaces per level

# --- blocks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockKind:
    """A kind of block: its header line, and the kinds of block it may stand in."""

    name: str
    header: re.Pattern[str]
    parents: tuple[str | None, ...] = (None,)  # None: the top level


def _kind(name: str, pattern: str, *parents: str | None) -> BlockKind:
    return BlockKind(name, re.compile(pattern + "$"), parents or (None,))


# [C] interface, watch-group, ppp profile, ip router ospf, ikev2 default-profile, the dhcp
# profiles (seed configs, IX-CLI.md); router bgp > address-family and policy-map > class
# and device (public IX configs); the rest [?] by the same pattern.
BLOCK_KINDS: tuple[BlockKind, ...] = (
    _kind("interface", r"interface (\S+)"),
    _kind("watch-group", r"watch-group (\S+) (\d+)"),
    _kind("ppp-profile", r"ppp profile (\S+)"),
    _kind("ospf", r"ip router ospf (\d+)"),
    _kind("ospf6", r"ipv6 router ospf (\d+)"),
    _kind("rip", r"ip router rip"),
    _kind("bgp", r"router bgp (\d+)"),
    _kind("bgp-address-family", r"address-family (ipv4|ipv6)(?: (unicast|multicast))?", "bgp"),
    _kind("ikev2-default-profile", r"ikev2 default-profile"),
    _kind("ikev2-profile", r"ikev2 profile (\S+)"),
    _kind("ike-proposal", r"ike proposal (\S+)"),
    _kind("ipsec-policy", r"ipsec (?:ike|autokey)-policy (\S+) (\S+)"),
    _kind("dhcp-profile", r"ip dhcp profile (\S+)"),
    _kind("dhcp6-client-profile", r"ipv6 dhcp client-profile (\S+)"),
    _kind("dhcp6-server-profile", r"ipv6 dhcp server-profile (\S+)"),
    _kind("route-map", r"route-map (\S+) (permit|deny) (\d+)"),
    _kind("class-map", r"class-map (?:match-(?:any|all) )?(\S+)"),
    _kind("policy-map", r"policy-map (\S+)"),
    _kind("policy-class", r"class (\S+)", "policy-map"),
    _kind("l2tp", r"l2tp (?:profile|tunnel) (\S+)"),
    _kind("device", r"device (\S+)"),
)
_BY_NAME = {kind.name: kind for kind in BLOCK_KINDS}


def block_kind(line: str, parent: str | None = None) -> BlockKind | None:
    """The kind of block ``line`` opens when typed inside a block of kind ``parent``
    (None: at the top level), or None when it opens none there."""
    for kind in BLOCK_KINDS:
        if parent in kind.parents and kind.header.match(line):
            return kind
    return None


def opens_block(line: str, parent: str | None = None) -> bool:
    return block_kind(line, parent) is not None


# --- override keys ---------------------------------------------------------------------------

# (block kinds or None for the top level, pattern, key). Two lines of one block with the same
# key override each other: typing the second replaces the first, and `no` of either removes
# the one that is there. A line no rule matches is its own key.
_TOP: tuple[str | None, ...] = (None,)
_IF = ("interface",)
_KEY_RULES: tuple[tuple[tuple[str | None, ...], re.Pattern[str], str], ...] = tuple(
    (kinds, re.compile(pattern), key)
    for kinds, pattern, key in (
        # [C] one hostname, one time zone, one NetMeister account
        (_TOP, r"^hostname\b", "hostname"),
        (_TOP, r"^timezone\b", "timezone"),
        (_TOP, r"^nm account\b", "nm account"),
        (_TOP, r"^nm sitename\b", "nm sitename"),
        (_TOP, r"^nm ddns hostname\b", "nm ddns hostname"),
        # [C] one notify interface per family (NetMeister holds one address per name)
        (_TOP, r"^nm ddns notify interface \S+ protocol (ip|ipv6)\b", "nm ddns notify {0}"),
        (_TOP, r"^nm ddns notify interface \S+$", "nm ddns notify ip"),
        (_TOP, r"^nm outgoing-interface \S+.* protocol (ip|ipv6)\b", "nm outgoing {0}"),
        (_TOP, r"^nm standby outgoing-interface \S+.* protocol (ip|ipv6)\b", "nm standby {0}"),
        # [?] one PSK per IKE identity, one account per user name, one route per next hop
        (_TOP, r"^ikev2 authentication psk id (\S+) (\S+)", "ikev2 psk {0} {1}"),
        (_TOP, r"^username (\S+)", "username {0}"),
        (_TOP, r"^ip route (\S+) (\S+)", "ip route {0} {1}"),
        (_TOP, r"^ipv6 route (\S+) (\S+)", "ipv6 route {0} {1}"),
        (_TOP, r"^proxy-dns ip request\b", "proxy-dns ip request"),
        (_TOP, r"^ntp server (\S+)", "ntp server {0}"),
        # [C] `no shutdown`, `no ip address`, `no auto-connect` are lines of their own
        (_IF, r"^(?:no )?shutdown$", "shutdown"),
        (_IF, r"^(?:no )?auto-connect$", "auto-connect"),
        (_IF, r"^ip address \S+ secondary$", "{line}"),
        (_IF, r"^(?:no )?ip (?:address|unnumbered)\b", "ip address"),
        (_IF, r"^ipv6 address autoconfig\b", "ipv6 address autoconfig"),
        (_IF, r"^tunnel mode\b", "tunnel mode"),
        (_IF, r"^ppp binding\b", "ppp binding"),
        (_IF, r"^description\b", "description"),
        (_IF, r"^ip mtu\b", "ip mtu"),
        (_IF, r"^ipv6 mtu\b", "ipv6 mtu"),
        (_IF, r"^ip ospf (\S+)", "ip ospf {0}"),
        (_IF, r"^ipv6 ospf (\S+)", "ipv6 ospf {0}"),
        (_IF, r"^ip tcp adjust-mss\b", "ip tcp adjust-mss"),
        (_IF, r"^ipv6 tcp adjust-mss\b", "ipv6 tcp adjust-mss"),
        (_IF, r"^ipv6 traffic-class\b", "ipv6 traffic-class"),
        (_IF, r"^ipv6 dhcp client\b", "ipv6 dhcp client"),
        (_IF, r"^ipv6 dhcp server\b", "ipv6 dhcp server"),
        (_IF, r"^ip dhcp binding\b", "ip dhcp binding"),
        (_IF, r"^ipv6 nd proxy\b", "ipv6 nd proxy"),
        # [?] one filter per sequence number and direction
        (_IF, r"^ip filter \S+ (\d+) (in|out)\b", "ip filter {0} {1}"),
        (_IF, r"^ipv6 filter \S+ (\d+) (in|out)\b", "ipv6 filter {0} {1}"),
        # [C] a tunnel has one IKE peer, one connect type, one outgoing interface
        (_IF, r"^ikev2 peer(?:-fqdn-ipv[46])?\b", "ikev2 peer"),
        (_IF, r"^ikev2 connect-type\b", "ikev2 connect-type"),
        (_IF, r"^ikev2 outgoing-interface\b", "ikev2 outgoing-interface"),
        (("ospf", "ospf6"), r"^network (\S+)", "network {0}"),
        (("ospf", "ospf6"), r"^router-id\b", "router-id"),
        (("ospf", "ospf6", "rip", "bgp"), r"^redistribute (\S+)", "redistribute {0}"),
        (("watch-group",), r"^event (\d+)", "event {0}"),
        (("watch-group",), r"^action (\d+)", "action {0}"),
        (("ppp-profile",), r"^authentication (myname|password)\b", "authentication {0}"),
        (("ikev2-default-profile", "ikev2-profile"), r"^local-authentication\b", "local-auth"),
        (("ikev2-default-profile", "ikev2-profile"), r"^(dpd|lifetime|sa-lifetime)\b", "{0}"),
        (("dhcp-profile", "dhcp6-server-profile"), r"^dns-server\b", "dns-server"),
        (("dhcp-profile",), r"^(default-gateway|lease-time)\b", "{0}"),
        (("route-map",), r"^(match|set) (\S+)", "{0} {1}"),
        (("bgp",), r"^neighbor (\S+) (remote-as|description)\b", "neighbor {0} {1}"),
        (("bgp",), r"^bgp router-id\b", "bgp router-id"),
    )
)

# Lines whose `no` form is itself stored in the config instead of removing a line.
STORED_NEGATIONS: frozenset[tuple[str | None, str]] = frozenset(
    {("interface", "no shutdown"), ("interface", "no ip address"), ("interface", "no auto-connect")}
)


def line_key(line: str, kind: str | None = None) -> str:
    """The override key of ``line`` inside a block of kind ``kind`` (None: the top level)."""
    for kinds, pattern, key in _KEY_RULES:
        if kind in kinds:
            match = pattern.search(line)
            if match is not None:
                return key.format(*match.groups(), line=line)
    return line


def is_stored_negation(line: str, kind: str | None) -> bool:
    return (kind, line) in STORED_NEGATIONS


def removal(line: str) -> str:
    """The line that takes ``line`` out of a config: ``no LINE``, or for a negation that the
    config holds as a line of its own (`no shutdown`), its positive form."""
    return negated(line) or f"no {line}"


# [C] a physical port's main interface cannot be deleted, only emptied; sub-interfaces,
# tunnels, loopbacks and the like can.
_PERMANENT = re.compile(
    r"^interface (?:GigaEthernet|FastEthernet|TenGigaEthernet|BRI|USB-Ethernet|USB-Serial)"
    r"\d+(?:[/:]\d+)*\.0$"
)


def permanent_block(header: str) -> bool:
    """True for a block that exists whatever the config says (a physical port)."""
    return _PERMANENT.match(header) is not None


# --- the tree --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One config line and, when it opens a block, the lines inside it (order kept)."""

    line: str
    children: tuple[Node, ...] = ()
    block: bool = False  # opens a block, even an empty one

    def walk(self, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
        path = (*prefix, self.line)
        yield path
        for child in self.children:
            yield from child.walk(path)

    def child(self, line: str) -> Node | None:
        return next((c for c in self.children if c.line == line), None)


Path = tuple[str, ...]  # block headers from the top, then the line


@dataclass(frozen=True)
class Config:
    """A whole config: top-level nodes in the order the router printed them."""

    nodes: tuple[Node, ...] = ()

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @cached_property
    def paths(self) -> frozenset[Path]:
        """Every line with the blocks it sits in: what two configs are compared by."""
        return frozenset(path for node in self.nodes for path in node.walk())

    def same_as(self, other: Config) -> bool:
        """Same lines in the same blocks, whatever the order."""
        return self.paths == other.paths

    def node(self, path: Path) -> Node | None:
        """The node at ``path`` (headers, then the line)."""
        nodes = self.nodes
        found: Node | None = None
        for line in path:
            found = next((n for n in nodes if n.line == line), None)
            if found is None:
                return None
            nodes = found.children
        return found

    def block(self, *headers: str) -> tuple[Node, ...] | None:
        """The children of the block at ``headers``, or None when there is no such block."""
        node = self.node(headers)
        return node.children if node is not None and node.block else None

    def top_lines(self) -> Iterator[str]:
        return (n.line for n in self.nodes if not n.block)

    def blocks(self, kind: str) -> Iterator[Node]:
        """Top-level blocks of one kind, in order."""
        return (n for n in self.nodes if n.block and kind_of(n.line) == kind)

    def lines(self) -> Iterator[Path]:
        for node in self.nodes:
            yield from node.walk()


def kind_of(header: str, parent: str | None = None) -> str | None:
    kind = block_kind(header, parent)
    return kind.name if kind is not None else None


def kind_at(headers: Iterable[str]) -> str | None:
    """The kind of the innermost block along ``headers`` (None at the top level)."""
    kind: str | None = None
    for header in headers:
        kind = kind_of(header, kind)
    return kind


# --- reading config text ---------------------------------------------------------------------

# Not config: the startup config's size line [C], `!` separators and comments [C], and the
# `end` some hand-written configs finish with.
# Nor is a `%` line (a router's notice or warning caught with the config).
_VOLATILE = re.compile(r"^(?:Using \d+ out of \d+ bytes\b.*|!.*|%.*|end)$")
# Real configs nest two levels; deeper indentation (a mangled file) is kept at this depth,
# so no config, however odd, can exhaust the stack.
MAX_DEPTH = 16


def parse(text: str) -> Config:
    """A config from `show running-config` / `show config` text, or a hand-written file.

    Nesting follows indentation (any depth, any indent width); blank lines, `!` lines and the
    `Using N out of M bytes` line go. An indented line with nothing above it stays, at the top.
    """
    root: list[_Building] = []
    stack: list[tuple[int, _Building]] = []
    for raw in text.splitlines():
        line = raw.expandtabs(8).rstrip()
        stripped = line.lstrip(" ")
        if not stripped or _VOLATILE.match(stripped):
            continue
        indent = len(line) - len(stripped)
        while stack and (stack[-1][0] >= indent or len(stack) > MAX_DEPTH):
            stack.pop()
        node = _Building(stripped)
        (stack[-1][1].children if stack else root).append(node)
        stack.append((indent, node))
    return Config(tuple(n.freeze(None) for n in root))


@dataclass
class _Building:
    line: str
    children: list[_Building] = field(default_factory=list)

    def freeze(self, parent: str | None) -> Node:
        kind = kind_of(self.line, parent)
        inner = kind if kind is not None else parent
        return Node(
            self.line,
            tuple(c.freeze(inner) for c in self.children),
            block=bool(self.children) or kind is not None,
        )


# --- writing config text ---------------------------------------------------------------------


def _group(line: str) -> str:
    """Top-level lines print in runs separated by `!`; a run shares its first word."""
    word = line.split(" ", 1)[0]
    return "system" if word in ("hostname", "timezone") else word


def render(config: Config) -> str:
    """The body of `show running-config` (no `!` header): two-space indents, `!` around
    blocks and between runs of top-level lines."""
    out: list[str] = []
    previous: Node | None = None
    for node in config.nodes:
        if node.block:
            if out and out[-1] != "!":
                out.append("!")
            out.extend(_render_node(node, 0))
            out.append("!")
        else:
            if (
                previous is not None
                and not previous.block
                and _group(previous.line) != _group(node.line)
            ):
                out.append("!")
            out.append(node.line)
        previous = node
    if out and out[-1] != "!":
        out.append("!")
    return "".join(f"{line}\n" for line in out)


def _render_node(node: Node, depth: int) -> list[str]:
    out = [INDENT * depth + node.line]
    for child in node.children:
        out.extend(_render_node(child, depth + 1))
    return out


# --- changes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One line typed in one place: ``context`` is the block headers from the top (() for the
    top level), ``line`` what is typed there (``no ...`` to negate)."""

    context: tuple[str, ...]
    line: str

    def __str__(self) -> str:
        return " > ".join((*self.context, self.line))


@dataclass(frozen=True)
class Change:
    """What one line did: ``before`` is the node it replaced or removed, ``after`` the node it
    added or replaced it with (None: nothing)."""

    context: tuple[str, ...]
    before: Node | None
    after: Node | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def negated(line: str) -> str | None:
    """``REST`` for ``no REST``, else None."""
    return line[3:].strip() if line.startswith("no ") and line[3:].strip() else None


def apply(config: Config, edit: Edit) -> tuple[Config, list[Change]]:
    """The config after ``edit``, and what changed. Blocks along the context that do not
    exist yet are created, as typing their header does on the router."""
    changes: list[Change] = []
    nodes = config.nodes
    kinds: list[str | None] = [None]
    for header in edit.context:
        kinds.append(kind_of(header, kinds[-1]))
    new_nodes = _apply_at(nodes, list(edit.context), edit.line, (), kinds, changes)
    return (Config(new_nodes) if changes else config), changes


def _apply_at(
    nodes: tuple[Node, ...],
    headers: list[str],
    line: str,
    where: tuple[str, ...],
    kinds: list[str | None],
    changes: list[Change],
) -> tuple[Node, ...]:
    kind = kinds[len(where)]
    if headers:
        header, rest = headers[0], headers[1:]
        index = next((i for i, n in enumerate(nodes) if n.line == header and n.block), None)
        if index is None:
            created = Node(header, (), block=True)
            changes.append(Change(where, None, created))
            nodes = _insert(nodes, created, kind)
            index = nodes.index(created)
        node = nodes[index]
        children = _apply_at(node.children, rest, line, (*where, header), kinds, changes)
        if children is node.children:
            return nodes
        return (*nodes[:index], Node(node.line, children, block=True), *nodes[index + 1 :])
    return _apply_line(nodes, line, where, kind, changes)


def _apply_line(
    nodes: tuple[Node, ...],
    line: str,
    where: tuple[str, ...],
    kind: str | None,
    changes: list[Change],
) -> tuple[Node, ...]:
    rest = negated(line)
    if rest is not None and not is_stored_negation(line, kind):
        targets = _negation_targets(nodes, rest, kind)
        if not targets:
            return nodes  # `no` of what is not there: nothing happens
        changes.extend(Change(where, target, None) for target in targets)
        return tuple(n for n in nodes if all(n is not t for t in targets))
    if opens_block(line, kind):
        if any(n.line == line and n.block for n in nodes):
            return nodes  # entering an existing block changes nothing
        created = Node(line, (), block=True)
        changes.append(Change(where, None, created))
        return _insert(nodes, created, kind)
    key = line_key(line, kind)
    for index, node in enumerate(nodes):
        if not node.block and line_key(node.line, kind) == key:
            if node.line == line:
                return nodes
            new = Node(line)
            changes.append(Change(where, node, new))
            return (*nodes[:index], new, *nodes[index + 1 :])
    new = Node(line)
    changes.append(Change(where, None, new))
    return _insert(nodes, new, kind)


# `no ip access-list NAME` removes that whole list, entry by entry [C, IX-R manual].
_WHOLE_LIST = re.compile(r"^(?:ip|ipv6) (?:access-list|prefix-list) \S+$")


def _negation_targets(nodes: tuple[Node, ...], rest: str, kind: str | None) -> tuple[Node, ...]:
    """What `no REST` removes: the block REST opens, the exact line, the line REST overrides
    by key (`no hostname` the hostname), or a whole named list; never every line that merely
    starts with REST."""
    if opens_block(rest, kind):
        return tuple(n for n in nodes if n.line == rest and n.block)[:1]
    exact = next((n for n in nodes if n.line == rest and not n.block), None)
    if exact is not None:
        return (exact,)
    if kind is None and _WHOLE_LIST.match(rest):
        return tuple(n for n in nodes if not n.block and n.line.startswith(rest + " "))
    key = line_key(rest, kind)
    keyed = next((n for n in nodes if not n.block and line_key(n.line, kind) == key), None)
    return () if keyed is None else (keyed,)


def _insert(nodes: tuple[Node, ...], new: Node, kind: str | None) -> tuple[Node, ...]:
    """Where the router would print a new line: children at the end of their block; at the
    top, after the last line of its run (or block of its kind), blocks of other kinds before
    the interfaces (the IX prints interfaces last)."""
    if kind is not None:
        return (*nodes, new)
    if new.block:
        new_kind = kind_of(new.line)
        same = [i for i, n in enumerate(nodes) if n.block and kind_of(n.line) == new_kind]
        if same:
            index = same[-1] + 1
        elif new_kind == "interface":
            index = len(nodes)
        else:
            index = _first_interface(nodes)
    else:
        group = _group(new.line)
        same = [i for i, n in enumerate(nodes) if not n.block and _group(n.line) == group]
        index = same[-1] + 1 if same else _first_block(nodes)
    return (*nodes[:index], new, *nodes[index:])


def _first_interface(nodes: tuple[Node, ...]) -> int:
    return next(
        (i for i, n in enumerate(nodes) if n.block and kind_of(n.line) == "interface"),
        len(nodes),
    )


def _first_block(nodes: tuple[Node, ...]) -> int:
    return next((i for i, n in enumerate(nodes) if n.block), len(nodes))


def apply_all(config: Config, edits: Iterable[Edit]) -> tuple[Config, list[Change]]:
    changes: list[Change] = []
    for edit in edits:
        config, done = apply(config, edit)
        changes.extend(done)
    return config, changes


# --- undo ------------------------------------------------------------------------------------


def inverse(changes: Iterable[Change]) -> list[Edit]:
    """The edits that undo ``changes`` (as returned by :func:`apply`), last change first."""
    undo: list[Edit] = []
    for change in reversed(list(changes)):
        undo.extend(_undo_one(change))
    return undo


def _undo_one(change: Change) -> list[Edit]:
    before, after, where = change.before, change.after, change.context
    if before is None and after is not None:
        # Added: take it away. A stored negation (`no shutdown`) is undone by its positive.
        return [Edit(where, removal(after.line))]
    if before is not None:
        # Replaced or removed: type it again (a block with everything inside it).
        return list(retype(before, where))
    return []


def retype(node: Node, where: tuple[str, ...] = ()) -> Iterator[Edit]:
    """The edits that create ``node`` (and, for a block, everything in it) at ``where``."""
    if not node.block:
        yield Edit(where, node.line)
        return
    if not node.children:
        yield Edit(where, node.line)
    for child in node.children:
        yield from retype(child, (*where, node.line))


def undo_edits(config: Config, edits: Iterable[Edit]) -> list[Edit]:
    """What undoes ``edits`` applied to ``config``, computed before anything is sent: the
    net difference, so a step that ends where it began (remove and re-add a line) needs no
    undo for that line."""
    return diff(apply_all(config, edits)[0], config, exact=True)


# --- comparing -------------------------------------------------------------------------------


def saved(running: Config | str, startup: Config | str) -> bool:
    """True when the running config and the startup config say the same thing."""
    a = parse(running) if isinstance(running, str) else running
    b = parse(startup) if isinstance(startup, str) else startup
    return a.same_as(b)


def diff(current: Config, target: Config, *, exact: bool = False) -> list[Edit]:
    """The edits that turn ``current`` into ``target``: removals as `no` lines inside their
    blocks (a whole block by its header), additions with their blocks; a line whose key is
    being set anew needs no `no` first. A stored negation (`no shutdown`) that ``target``
    does not mention is left alone, unless ``exact`` (an undo: everything back as it was)."""
    edits: list[Edit] = []
    _diff_nodes(current.nodes, target.nodes, (), None, edits, exact)
    return edits


def _diff_nodes(
    have: tuple[Node, ...],
    want: tuple[Node, ...],
    where: tuple[str, ...],
    kind: str | None,
    edits: list[Edit],
    exact: bool,
) -> None:
    have_by_line = {n.line: n for n in have}
    want_by_line = {n.line: n for n in want}
    wanted_keys = {line_key(n.line, kind) for n in want if not n.block}
    for node in have:
        if node.line in want_by_line:
            continue
        if not node.block and line_key(node.line, kind) in wanted_keys:
            continue  # replaced by the wanted line of the same key
        if not node.block and negated(node.line) is not None and not exact:
            continue  # a stored `no X` with nothing wanted in its place: leave the state alone
        if node.block and permanent_block(node.line):
            # A physical port cannot be deleted: empty it instead.
            _diff_nodes(
                node.children, (), (*where, node.line), kind_of(node.line, kind), edits, exact
            )
            continue
        edits.append(Edit(where, removal(node.line)))
    for node in want:
        old = have_by_line.get(node.line)
        if old is None:
            edits.extend(retype(node, where))
        elif node.block:
            inner = kind_of(node.line, kind)
            _diff_nodes(old.children, node.children, (*where, node.line), inner, edits, exact)


# --- what a step touches, and putting it back ------------------------------------------------


def touched(config: Config, edits: Sequence[Edit]) -> frozenset[Path]:
    """Every path that ``edits`` add or remove on the way, applied one by one to ``config``:
    whatever a step interrupted anywhere may have left behind lies among these."""
    out: set[Path] = set()
    current = config
    for edit in edits:
        after, _ = apply(current, edit)
        out |= after.paths ^ current.paths
        current = after
    return frozenset(out)


def from_paths(paths: Iterable[Path]) -> Config:
    """A config holding exactly ``paths`` (with the blocks they sit in)."""
    root: dict[str, dict[str, Any]] = {}
    for path in sorted(paths, key=len):
        level = root
        for line in path:
            level = level.setdefault(line, {})

    def build(level: dict[str, dict[str, Any]], parent: str | None) -> tuple[Node, ...]:
        nodes = []
        for line, children in level.items():
            kind = kind_of(line, parent)
            inner = kind if kind is not None else parent
            nodes.append(
                Node(line, build(children, inner), block=bool(children) or kind is not None)
            )
        return tuple(nodes)

    return Config(build(root, None))


def around(config: Config, paths: Iterable[Path]) -> frozenset[Path]:
    """Those of ``paths`` that ``config`` has, with the blocks they sit in: what a journal
    keeps of the config before a step (nothing it does not touch)."""
    wanted = frozenset(paths)
    ancestors = {p[:i] for p in wanted for i in range(1, len(p))}
    return frozenset(p for p in wanted | ancestors if p in config.paths)


def restore(current: Config, before: Iterable[Path], paths: Iterable[Path]) -> list[Edit]:
    """The edits that put ``paths`` of ``current`` back to how they were (``before``: what
    :func:`around` kept of the config then), touching nothing else: how an interrupted step
    is undone from whatever state the router is in now. A block that was there is kept and
    only its touched lines are put back. Where someone else has since set a line of the same
    key (another notify interface, say), that key is left as they set it."""
    wanted = frozenset(paths)

    def key(context: tuple[str, ...], line: str) -> tuple[tuple[str, ...], str]:
        return context, line_key(line, kind_at(context))

    touched_keys = {key(p[:-1], p[-1]) for p in wanted}
    theirs = {key(p[:-1], p[-1]) for p in current.paths if p not in wanted} & touched_keys
    edits = diff(
        from_paths(around(current, wanted)),
        from_paths(around(from_paths(before), wanted)),
        exact=True,
    )
    return [e for e in edits if key(e.context, negated(e.line) or e.line) not in theirs]
