"""The lab's faults, and which rung of a repair ladder cures each (data).

A repair ladder tries the gentlest step first (``reregister``: remove and re-add the
`nm ddns notify` line; ``client-restart``: `no nm ip enable`, `nm ip enable`;
``tunnel-bounce``: `shutdown`, `no shutdown` on the tunnel; ``reboot``) and stops at the first
that helps. Each fault lists the rungs that cure it, so a test can prove a ladder stops early
when it can and escalates when it must. ``clear`` is the lab operator (`nmops lab clear`),
standing for whatever a person on site would do.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNGS = ("reregister", "client-restart", "tunnel-bounce", "reboot", "clear")


@dataclass(frozen=True)
class FaultKind:
    name: str
    summary: str
    cured_by: tuple[str, ...]
    family: int | None = None  # the DDNS family it stops, for the registration faults
    event: bool = False  # happens once (it changes the world) instead of holding a state


def _stuck(family: int, name: str, summary: str, *cured_by: str) -> FaultKind:
    return FaultKind(name, summary, (*cured_by, "clear"), family)


KINDS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        _stuck(6, "ddns-v6-stuck", "IPv6 registration stops until a reboot (the seed's)", "reboot"),
        _stuck(4, "ddns-v4-stuck", "IPv4 registration stops until a reboot", "reboot"),
        _stuck(
            6,
            "ddns-v6-needs-restart",
            "the NetMeister client stops updating IPv6 until it is restarted",
            "client-restart",
            "reboot",
        ),
        _stuck(
            4,
            "ddns-v4-needs-restart",
            "the NetMeister client stops updating IPv4 until it is restarted",
            "client-restart",
            "reboot",
        ),
        _stuck(
            6,
            "ddns-v6-needs-reregister",
            "the IPv6 registration is lost until the notify line is added again",
            "reregister",
            "client-restart",
            "reboot",
        ),
        _stuck(
            4,
            "ddns-v4-needs-reregister",
            "the IPv4 registration is lost until the notify line is added again",
            "reregister",
            "client-restart",
            "reboot",
        ),
        FaultKind(
            "address-change",
            "a new PPPoE address and IPv6 prefix; DNS follows at the client's next update",
            ("reregister", "client-restart", "reboot"),
            event=True,
        ),
        FaultKind(
            "ike-peer-stale",
            "IKE SAs keep the peer's old address until the tunnel is renegotiated",
            ("tunnel-bounce", "reboot", "clear"),
        ),
        FaultKind("ssh-down", "new SSH connections are refused", ("clear",)),
        FaultKind("config-locked", "someone else sits in config mode", ("reboot", "clear")),
        FaultKind("slow", "every reply is delayed", ("clear",)),
        FaultKind("reload-hangs", "a reload never comes back until power-cycled", ("clear",)),
    )
}
FAULT_KINDS = tuple(KINDS)


def cured_by(rung: str) -> frozenset[str]:
    """The faults that ``rung`` cures."""
    return frozenset(name for name, kind in KINDS.items() if rung in kind.cured_by)


def blocking_registration(faults: set[str], family: int) -> bool:
    """Whether one of ``faults`` stops the DDNS registration of ``family``."""
    return any(KINDS[f].family == family for f in faults)


def unknown(kind: str) -> ValueError:
    return ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
