"""`show` outputs of the simulated IX, each a function of the router's state.

Formats follow IX-CLI.md: real transcripts where there are any, the project's chosen formats
for `show ipv6 interface` and `show ikev2 sa`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nmops.lab.ixsim import texts
from nmops.lab.ixsim.ike import IKE_PORT
from nmops.lab.ixsim.interfaces import interface_names, ipv4_state, ipv6_state
from nmops.lab.ixsim.router import JST, SimRouter


def _header(router: SimRouter) -> list[str]:
    return [
        *(f"! {line}" for line in texts.FIRMWARE_BANNER),
        f"! {texts.COMPILED}",
        f"! Current time {router.clock().strftime(texts.CLOCK_FORMAT)}",
        "!",
    ]


def running_config(router: SimRouter) -> str:
    return "\n".join(_header(router)) + "\n" + router.running.render()


def startup_config(router: SimRouter) -> str:
    return "\n".join(_header(router)) + "\n" + router.startup.render()


def version(router: SimRouter) -> str:
    minutes = int(router.uptime // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    lines = [
        *texts.FIRMWARE_BANNER,
        f"{texts.COMPILED} by sw-build, coregen-10.7(18)",
        "",
        *texts.ROM_LINES,
        "",
        f"System uptime is {days} days {hours} hours {minutes} minutes",
        f"System woke up by reload, caused by {router.wake_cause}",
        f"System started at {router.started_at.strftime(texts.CLOCK_FORMAT)}",
        f'System image file is "{texts.IMAGE_FILE}"',
    ]
    return "\n".join(lines) + "\n"


def _status(configured: bool, admin_up: bool, ifname: str) -> str:
    if not configured or not admin_up:
        return f"Interface {ifname} is administratively down, line protocol is down"
    return f"Interface {ifname} is up, line protocol is up"


def ip_interface(router: SimRouter, ifname: str) -> str:
    state = ipv4_state(router.running, router.wan, ifname)
    lines = [_status(state.configured, state.admin_up, ifname)]
    if state.address is not None:
        lines += [
            f"  Internet address is {state.address.with_prefixlen}",
            "  Broadcast address is 255.255.255.255",
            f"  Address determined by {state.origin}",
        ]
    elif state.unnumbered is not None:
        lines.append(f"  Interface is unnumbered. Using address of {state.unnumbered}")
    else:
        lines.append("  Internet protocol processing disabled")
    if state.configured:
        lines.append(f"  MTU is {state.mtu} octets")
    return "\n".join(lines) + "\n"


def ipv6_interface(router: SimRouter, ifname: str) -> str:
    state = ipv6_state(router.running, router.wan, ifname)
    lines = [_status(state.configured, state.admin_up, ifname)]
    if not state.enabled or state.link_local is None:
        lines.append("  IPv6 protocol processing disabled")
        return "\n".join(lines) + "\n"
    lines += [
        "  IPv6 is enabled",
        "  Link-local address:",
        f"    {state.link_local}/64 (preferred)",
    ]
    if state.globals:
        lines.append("  Global unicast address(es):")
        lines += [
            f"    {addr.with_prefixlen} (preferred, {origin})" for addr, origin in state.globals
        ]
    lines.append(f"  MTU is {state.mtu} octets")
    return "\n".join(lines) + "\n"


def all_interfaces(router: SimRouter, family: int) -> str:
    render = ip_interface if family == 4 else ipv6_interface
    return "".join(render(router, name) for name in interface_names(router.running))


def nm_information(router: SimRouter) -> str:
    last = router.nm_last_request
    if router.ddns_names() is None:
        result, last_text, next_text = "Disabled", "-", "-"
    elif last is None:
        result, last_text, next_text = "-", "-", "-"
    else:
        interval = router.timings.nm_interval
        nxt = last + timedelta(seconds=interval)
        remain = max(0, int((nxt - datetime.now(JST)).total_seconds()))
        result = "Success (20000)"  # even with a stuck DDNS: the failure the seed saw is silent
        last_text = last.strftime(texts.NM_CLOCK_FORMAT)
        next_text = f"{nxt.strftime(texts.NM_CLOCK_FORMAT)} (remain {remain} sec)"
    lines = [
        "NetMeister Client:",
        f"  Result      : {result}",
        f"  Last Request: {last_text}",
        f"  Next Request: {next_text}",
    ]
    return "\n".join(lines) + "\n"


def ikev2_sa(router: SimRouter) -> str:
    out: list[str] = []
    for sa in router.ike_sas():
        out += [
            f"IKEv2 SA, {sa.tunnel}",
            f"  Local address is {sa.local}, port is {IKE_PORT}",
            f"  Remote address is {sa.remote}, port is {IKE_PORT}",
            f"  Peer FQDN is {sa.peer_fqdn}",
            "  State is established",
        ]
    return "".join(f"{line}\n" for line in out)
