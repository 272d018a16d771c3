"""Pure parsers for IX `show` output, each returning a frozen dataclass.

Every parser tolerates CRLF, paging markers, echoed commands, trailing prompts and lines it
does not know; it raises ParseError when the text is not the output of its command.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

from nmops.dns.addresses import bogus_reason
from nmops.errors import RouterError
from nmops.ix import dialect, formats


class ParseError(RouterError):
    """The router's answer is not the output the parser expected."""


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HEADER_RE = re.compile(
    r"^Interface (?P<name>\S+) is (?P<admin>administratively down|[^\s,]+)"
    r"(?:, line protocol is (?P<line>[^\s,]+))?"
)


def _lines(text: str, command: str) -> list[str]:
    """Clean lines of ``text``, or ParseError when the router answered with an error."""
    lines = dialect.clean_output(text)
    error = dialect.find_show_error(text)
    if error is not None:
        raise ParseError(f"`{command}` failed on the router: {error}")
    return lines


def _header(lines: list[str], command: str) -> tuple[int, re.Match[str]]:
    for index, line in enumerate(lines):
        match = _HEADER_RE.match(line.strip())
        if match is not None:
            return index, match
    raise ParseError(f"`{command}` output has no `Interface X is ...` line")


def _search(pattern: str, lines: list[str]) -> re.Match[str] | None:
    compiled = re.compile(pattern)
    for line in lines:
        match = compiled.match(line.strip())
        if match is not None:
            return match
    return None


# --- show ip interface -----------------------------------------------------------------------


@dataclass(frozen=True)
class IpInterface:
    name: str
    admin_up: bool  # False only when `administratively down`
    line_up: bool
    enabled: bool  # False on `Internet protocol processing disabled`
    addresses: tuple[ipaddress.IPv4Interface, ...]
    origin: str | None  # `config`, `IPCP`, `DHCP` ...
    mtu: int | None


def parse_ip_interface(text: str) -> IpInterface:
    """Parse `show ip interface IF` (the first interface when several are printed)."""
    command = "show ip interface"
    lines = _lines(text, command)
    start, head = _header(lines, command)
    body: list[str] = []
    for line in lines[start + 1 :]:
        if _HEADER_RE.match(line.strip()):
            break
        body.append(line)
    addresses: list[ipaddress.IPv4Interface] = []
    for line in body:
        match = re.match(r"^(?:Internet|Secondary) address is (\S+)", line.strip())
        if match is not None:
            try:
                addresses.append(ipaddress.IPv4Interface(match[1]))
            except ValueError as exc:
                raise ParseError(f"`{command}`: bad address {match[1]!r}") from exc
    origin = _search(r"^Address determined by (\S+)", body)
    mtu = _search(r"^MTU is (\d+)", body)
    return IpInterface(
        name=head["name"],
        admin_up=head["admin"] != "administratively down",
        line_up=head["line"] == "up",
        enabled=_search(r"^Internet protocol processing disabled", body) is None,
        addresses=tuple(addresses),
        origin=origin[1] if origin else None,
        mtu=int(mtu[1]) if mtu else None,
    )


# --- show ipv6 interface ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ipv6Address:
    interface: ipaddress.IPv6Interface
    state: str  # `preferred`, `deprecated`, `tentative` ... (`unknown` when not printed)
    origin: str | None  # `RA`, `DHCPv6`, ... as printed


def _is_global(address: ipaddress.IPv6Address) -> bool:
    # One definition of "could be published" for the whole project; documentation ranges pass
    # here (the lab uses them) and are judged by the caller's setting.
    return bogus_reason(address, allow_documentation=True) is None


@dataclass(frozen=True)
class Ipv6Interface:
    name: str
    admin_up: bool
    line_up: bool
    enabled: bool
    link_local: tuple[Ipv6Address, ...]
    globals: tuple[Ipv6Address, ...]
    mtu: int | None

    @property
    def preferred_globals(self) -> tuple[Ipv6Address, ...]:
        """Global addresses that DDNS may publish: preferred, and neither link-local nor ULA."""
        return tuple(
            a for a in self.globals if a.state == "preferred" and _is_global(a.interface.ip)
        )


def _v6_address(text: str, command: str) -> Ipv6Address | None:
    match = formats.IPV6_ADDRESS_RE.match(text.strip())
    if match is None:
        return None
    try:
        interface = ipaddress.IPv6Interface(match["addr"])
    except ValueError as exc:
        raise ParseError(f"`{command}`: bad address {match['addr']!r}") from exc
    flags = [flag.strip() for flag in (match["flags"] or "").split(",") if flag.strip()]
    state = flags[0].lower() if flags else "unknown"
    return Ipv6Address(interface, state, flags[1] if len(flags) > 1 else None)


def parse_ipv6_interface(text: str) -> Ipv6Interface:
    """Parse `show ipv6 interface IF` in the guessed format of :mod:`nmops.ix.formats`."""
    command = "show ipv6 interface"
    lines = _lines(text, command)
    start, head = _header(lines, command)
    found: dict[str, list[Ipv6Address]] = {"link": [], "global": []}
    section: str | None = None
    enabled = True
    mtu: int | None = None
    for raw in lines[start + 1 :]:
        line = raw.strip()
        if _HEADER_RE.match(line):
            break
        titles = ((formats.IPV6_LINK_LOCAL_TITLE, "link"), (formats.IPV6_GLOBAL_TITLE, "global"))
        for title, key in titles:
            if line.startswith(title):
                # The list follows on the next lines, or on this one after the colon.
                section, line = key, line.partition(":")[2].strip()
        if not line:
            continue
        address = _v6_address(line, command)
        if address is not None:
            if section is not None:
                found[section].append(address)
            continue
        section = None  # any other line ends an address list
        if line.startswith(formats.IPV6_DISABLED):
            enabled = False
        elif match := re.match(r"^MTU is (\d+)", line):
            mtu = int(match[1])
    return Ipv6Interface(
        name=head["name"],
        admin_up=head["admin"] != "administratively down",
        line_up=head["line"] == "up",
        enabled=enabled,
        link_local=tuple(found["link"]),
        globals=tuple(found["global"]),
        mtu=mtu,
    )


# --- show nm information / show nm status ----------------------------------------------------


@dataclass(frozen=True)
class NmStatus:
    result: str  # e.g. `Success`, without the code
    code: int | None  # e.g. 20000
    last_request: datetime | None  # router local time, naive
    next_request: datetime | None
    remain_seconds: int | None  # `(remain N sec)` after the next request

    @property
    def ok(self) -> bool:
        return self.result.startswith("Success")


def _nm_time(value: str) -> datetime | None:
    match = re.match(r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})", value.strip())
    if match is None:
        return None  # `-` or empty before the first request
    try:
        return datetime.strptime(match[1], "%Y/%m/%d %H:%M:%S")
    except ValueError:
        return None


def parse_nm_information(text: str) -> NmStatus:
    """Parse `show nm information` (IX2000/IX3000) or `show nm status` (IX-R/IX-V)."""
    command = "show nm information"
    lines = _lines(text, command)
    fields: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(" ".join(key.split()).lower(), value.strip())
    if "result" not in fields:
        raise ParseError(f"`{command}` output has no `Result :` line")
    result = fields["result"]
    code = re.search(r"\((\d+)\)\s*$", result)
    nxt = fields.get("next request", "")
    remain = re.search(r"remain (\d+) sec", nxt)
    return NmStatus(
        result=result[: code.start()].strip() if code else result,
        code=int(code[1]) if code else None,
        last_request=_nm_time(fields.get("last request", "")),
        next_request=_nm_time(nxt),
        remain_seconds=int(remain[1]) if remain else None,
    )


# --- show ikev2 sa ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IkeSa:
    """One SA as `show ikev2 sa` prints it (the guessed format of :mod:`nmops.ix.formats`).
    Which peer the tunnel means to reach is config (:mod:`nmops.ix.routerconfig`)."""

    tunnel: str
    local: IpAddress
    local_port: int
    remote: IpAddress
    remote_port: int
    state: str

    @property
    def established(self) -> bool:
        return self.state == "established"


def _ike_sa(tunnel: str, body: list[str], command: str) -> IkeSa | None:
    ends: dict[str, tuple[IpAddress, int]] = {}
    for line in body:
        match = formats.IKEV2_SA_END_RE.match(line.strip())
        if match is not None:
            try:
                ends[match["side"]] = (ipaddress.ip_address(match["addr"]), int(match["port"]))
            except ValueError as exc:
                raise ParseError(f"`{command}`: bad address {match['addr']!r}") from exc
    state = next((m for line in body if (m := formats.IKEV2_SA_STATE_RE.match(line.strip()))), None)
    if state is not None and state[1].lower() != "established" and "Remote" not in ends:
        return None  # still negotiating: no peer address to judge yet
    if "Local" not in ends or "Remote" not in ends or state is None:
        raise ParseError(f"`{command}`: SA on {tunnel} lacks its addresses or state")
    return IkeSa(
        tunnel=tunnel,
        local=ends["Local"][0],
        local_port=ends["Local"][1],
        remote=ends["Remote"][0],
        remote_port=ends["Remote"][1],
        state=state[1].lower(),
    )


def parse_ikev2_sa(text: str) -> tuple[IkeSa, ...]:
    """Parse `show ikev2 sa`: one block per SA; no block (or `% No IKEv2 SA.`) means none."""
    command = "show ikev2 sa"
    blocks: list[tuple[str, list[str]]] = []
    for line in _lines(text, command):
        match = formats.IKEV2_SA_HEADER_RE.match(line.strip())
        if match is not None:
            blocks.append((match[1], []))
        elif blocks:
            blocks[-1][1].append(line)
    parsed = (_ike_sa(tunnel, body, command) for tunnel, body in blocks)
    return tuple(sa for sa in parsed if sa is not None)


# --- show version ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    model: str  # e.g. IX2215
    firmware: str  # e.g. 10.7.18
    uptime: int  # seconds
    reload_cause: str | None  # `power-on`, `command execution` ...
    started_at: str | None  # as printed, with the router's time zone
    image: str | None

    @property
    def started(self) -> datetime | None:
        """``started_at`` as a time on the router's own clock (its zone dropped), or None."""
        if self.started_at is None:
            return None
        match = re.match(r"^(\w{3} \d{1,2}-\w{3}-\d{4} \d{2}:\d{2}:\d{2})", self.started_at)
        if match is None:
            return None
        try:
            return datetime.strptime(match[1], "%b %d-%a-%Y %H:%M:%S")
        except ValueError:
            return None


def restarted(before: VersionInfo, after: VersionInfo, elapsed: float) -> bool:
    """Whether the router restarted between two `show version` readings ``elapsed`` seconds
    apart (pure). Both `System started at` times come from the router's own clock, so they
    compare without any clock skew; without them, the uptime must have fallen back (it is
    printed in whole minutes, hence the minute of slack)."""
    if before.started is not None and after.started is not None:
        return after.started > before.started
    return after.uptime + 60 < before.uptime + elapsed


_UNIT_SECONDS = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}


def parse_uptime(text: str) -> int:
    """Seconds in e.g. `6 days 21 hours 45 minutes` or `1 week 2 days, 3 hours`."""
    parts = re.findall(r"(\d+)\s*(week|day|hour|minute|second)s?", text)
    if not parts:
        raise ParseError(f"`show version`: cannot read uptime {text!r}")
    return sum(int(count) * _UNIT_SECONDS[unit] for count, unit in parts)


def parse_version(text: str) -> VersionInfo:
    """Parse `show version`."""
    command = "show version"
    lines = _lines(text, command)
    head = _search(r"^IX Series (\S+)\b.*\bVersion ([0-9][\w.]*)", lines)
    if head is None:
        raise ParseError(f"`{command}` output has no `IX Series MODEL ... Version` line")
    uptime = _search(r"^System uptime is (.+)$", lines)
    if uptime is None:
        raise ParseError(f"`{command}` output has no `System uptime is` line")
    cause = next((m for line in lines if (m := dialect.RELOAD_CAUSE_RE.match(line.strip()))), None)
    started = _search(r"^System started at (.+?)\s*$", lines)
    image = _search(r'^System image file is "([^"]*)"', lines)
    return VersionInfo(
        model=head[1],
        firmware=head[2].rstrip("."),
        uptime=parse_uptime(uptime[1]),
        reload_cause=cause["cause"] if cause else None,
        started_at=started[1] if started else None,
        image=image[1] if image else None,
    )
