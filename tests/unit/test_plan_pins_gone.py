"""Which open pins a router's running config no longer holds (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from nmops.check import RouterReport
from nmops.ix import lines
from nmops.ix.observed import RouterFacts
from nmops.plan_pins import pins_gone

TUNNEL = """\
interface Tunnel1.0
  tunnel mode ipsec-ikev2
  ikev2 {peer} authentication psk id keyid kagawa
"""


@dataclass(frozen=True)
class Held:
    router: str
    tunnel: str
    address: str


def report(name: str, config: str | None, *, reachable: bool = True) -> RouterReport:
    running = lines.parse(config) if config is not None else None
    return RouterReport(name, (), RouterFacts(name, reachable, running=running))


def gone(config: str | None, address: str = "2001:db8:3::1", **kw: bool) -> list[str]:
    pin = Held("tokyo", "Tunnel1.0", address)
    return [why for _, why in pins_gone([pin], [report("tokyo", config, **kw)])]


def test_a_pin_the_config_still_holds_stays() -> None:
    assert gone(TUNNEL.format(peer="peer 2001:db8:3::1")) == []
    # The router may spell the address its own way.
    assert gone(TUNNEL.format(peer="peer 2001:0db8:0003:0:0:0:0:1")) == []


def test_the_name_back_in_the_config_ends_the_pin() -> None:
    (why,) = gone(TUNNEL.format(peer="peer-fqdn-ipv6 kagawa.grp.v6.nmddns.jp"))
    assert "no longer points Tunnel1.0 at 2001:db8:3::1" in why


def test_another_address_or_a_removed_tunnel_ends_it() -> None:
    assert gone(TUNNEL.format(peer="peer 2001:db8:3::2"))
    assert gone(TUNNEL.format(peer="peer not-an-address"))
    (why,) = gone("interface Tunnel2.0\n  tunnel mode ipsec-ikev2\n")
    assert why == "Tunnel1.0 is no longer in the running config"


def test_a_router_not_read_this_time_says_nothing() -> None:
    assert gone(None) == []
    assert gone(TUNNEL.format(peer="peer-fqdn-ipv6 x.v6.nmddns.jp"), reachable=False) == []
    other = Held("osaka", "Tunnel1.0", "2001:db8:3::1")
    assert pins_gone([other], [report("tokyo", "")]) == []
