"""Finding codes and how they map to monitoring-plugin exit codes (pure)."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Status(StrEnum):
    """Stable codes for what nmops found; they appear in JSON, mail and the database."""

    OK = "ok"
    MISSING = "missing"  # NOERROR, no record of that type (NODATA)
    NXDOMAIN = "nxdomain"
    STALE = "stale"  # the answer is not the address the router has (or `expect` says)
    BOGUS = "bogus"  # a non-global address is published
    DISAGREE = "disagree"  # authoritative servers answer differently
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    LAME = "lame"  # answered without the AA bit: not authoritative for the zone
    ERROR = "error"  # any other rcode, or an answer that could not be read
    # From the router side (the three-way truth check):
    PEER_STALE = "peer-stale"  # DNS is right but an IKE SA still uses an old peer address
    NO_ADDRESS = "no-address"  # the notify interface has no global address: fault is upstream
    UNREACHABLE = "unreachable"  # router CLI not reachable on any management path
    UNSAVED = "unsaved"  # running config differs from startup (a reboot would revert it)
    LOCKED = "locked"  # reachable, but another session holds config mode (where `show` works)
    DDNS_CONFIG = "ddns-config"  # the `nm` lines disagree with the inventory or the address
    NM_FAILED = "nm-failed"  # the NetMeister client reports a failure (or is off though enabled)
    LOST = "lost"  # a reboot did not bring the router back

    @property
    def is_server_failure(self) -> bool:
        """The server gave no usable answer (as opposed to an answer that is bad news)."""
        return self in _FAILURES


_FAILURES = frozenset({Status.SERVFAIL, Status.REFUSED, Status.TIMEOUT, Status.LAME, Status.ERROR})


class ExitCode(IntEnum):
    """Nagios/monitoring-plugins exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


# Worst last: a CRITICAL finding outweighs an UNKNOWN elsewhere, as most plugins rank them.
_RANK = [ExitCode.OK, ExitCode.WARNING, ExitCode.UNKNOWN, ExitCode.CRITICAL]


def worst(codes: list[ExitCode] | tuple[ExitCode, ...]) -> ExitCode:
    return max(codes, key=_RANK.index, default=ExitCode.OK)


_SEVERITY = {
    Status.OK: ExitCode.OK,
    Status.DISAGREE: ExitCode.WARNING,
    Status.MISSING: ExitCode.CRITICAL,
    Status.NXDOMAIN: ExitCode.CRITICAL,
    Status.STALE: ExitCode.CRITICAL,
    Status.BOGUS: ExitCode.CRITICAL,
    Status.PEER_STALE: ExitCode.CRITICAL,
    Status.NO_ADDRESS: ExitCode.CRITICAL,
    Status.UNREACHABLE: ExitCode.WARNING,
    Status.UNSAVED: ExitCode.WARNING,
    Status.LOCKED: ExitCode.WARNING,
    Status.DDNS_CONFIG: ExitCode.WARNING,
    Status.NM_FAILED: ExitCode.WARNING,
    Status.LOST: ExitCode.CRITICAL,
}


def severity(status: Status, *, partial: bool = False) -> ExitCode:
    """The exit code one name's status gives; a name no server answered is UNKNOWN."""
    code = _SEVERITY.get(status, ExitCode.UNKNOWN)
    return worst([code, ExitCode.WARNING]) if partial else code
