"""`show` outputs of the simulated IX, each a function of the router's state.

Formats follow IX-CLI.md: real transcripts where there are any; the guessed ones
(`show ipv6 interface`, `show ikev2 sa` ...) come from :mod:`nmops.ix.formats`, the one place
that both this simulator and nmops's parsers take them from.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from nmops.ix import formats, lines
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
    return "\n".join(_header(router)) + "\n" + lines.render(router.running)


def startup_config(router: SimRouter) -> str:
    """`show config`: the saved config, headed by its size line [C]."""
    body = lines.render(router.startup)
    size = f"Using {len(body.encode())} out of {texts.NVRAM_BYTES} bytes"
    return "\n".join([size, *_header(router)]) + "\n" + body


def version(router: SimRouter) -> str:
    minutes = int(router.uptime // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    out = [
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
    return "\n".join(out) + "\n"


def _status(configured: bool, admin_up: bool, ifname: str) -> str:
    if not configured or not admin_up:
        return f"Interface {ifname} is administratively down, line protocol is down"
    return f"Interface {ifname} is up, line protocol is up"


def ip_interface(router: SimRouter, ifname: str) -> str:
    state = ipv4_state(router.running, router.wan, ifname)
    out = [_status(state.configured, state.admin_up, ifname)]
    if state.address is not None:
        out += [
            f"  Internet address is {state.address.with_prefixlen}",
            "  Broadcast address is 255.255.255.255",
            f"  Address determined by {state.origin}",
        ]
    elif state.unnumbered is not None:
        out.append(formats.UNNUMBERED_LINE.format(ifname=state.unnumbered))
    else:
        out.append("  Internet protocol processing disabled")
    if state.configured:
        out.append(f"  MTU is {state.mtu} octets")
    return "\n".join(out) + "\n"


def ipv6_interface(router: SimRouter, ifname: str) -> str:
    state = ipv6_state(router.running, router.wan, ifname)
    return formats.render_ipv6_interface(
        formats.Ipv6Text(
            status=_status(state.configured, state.admin_up, ifname),
            enabled=state.enabled and state.link_local is not None,
            link_local=f"{state.link_local}/64" if state.link_local is not None else None,
            globals=tuple((a.with_prefixlen, "preferred", origin) for a, origin in state.globals),
            mtu=state.mtu,
        )
    )


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
    out = [
        "NetMeister Client:",
        f"  Result      : {result}",
        f"  Last Request: {last_text}",
        f"  Next Request: {next_text}",
    ]
    return "\n".join(out) + "\n"


def ikev2_sa(router: SimRouter) -> str:
    return formats.render_ikev2_sa(
        formats.SaText(sa.tunnel, sa.local, IKE_PORT, sa.remote, IKE_PORT)
        for sa in router.ike_sas()
    )
