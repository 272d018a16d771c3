"""`peers diff` and `peers sync` on the lab over real SSH, with the rendered config stood in
for by each router's config as the lab started it: drift introduced on a simulated router is
found and put right, then nothing is left; the gates (unsaved, lockout, rehearsal) hold."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from nmops.config.load import Config, load_config
from nmops.config.model import Router
from nmops.ix import lines
from nmops.ix.lines import Edit
from nmops.ix.session import ChangeSession
from nmops.lab.runner import Twin
from nmops.peers.sync import SyncResult, peers_diff, peers_sync
from nmops.state import Store, actions_for
from tests.integration.labutil import TOKYO, LabThread

pytestmark = pytest.mark.lab

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "golden"
BGP = "router bgp 65000\n  address-family ipv4 unicast\n{v4}  address-family ipv6 unicast\n{v6}"
NETWORK = "    network 10.0.0.0/8\n"
FILTER = "ip filter ikev2 1 in"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabThread]:
    # Tokyo as a twin that also speaks BGP: two levels of nesting to move a line between.
    twin = tmp_path / "tokyo.conf"
    twin.write_text((SEED / "ix2215-tokyo.conf").read_text() + BGP.format(v4=NETWORK, v6=""))
    with LabThread(tmp_path / "lab", twins=[Twin(TOKYO, twin)]) as running:
        yield running


class Setup:
    def __init__(self, lab: LabThread) -> None:
        self.lab = lab
        # What each router should have: its config as the lab started it.
        self.want = {n: lines.render(r.running) for n, r in lab.lab.sim.routers.items()}

    def desired(self, config: Config, router: Router) -> str:
        return self.want[router.name]

    def config(self) -> Config:
        return load_config(self.lab.config_path)

    def diff(self) -> SyncResult:
        config = self.config()
        return asyncio.run(peers_diff(config, config.routers([TOKYO]), None, desired=self.desired))

    def sync(self, **options: Any) -> SyncResult:
        config = self.config()
        with Store.open(config.settings.state.resolved(config.base_dir)) as store:
            return asyncio.run(
                peers_sync(config, store, config.routers([TOKYO]), desired=self.desired, **options)
            )

    def change(self, edits: list[Edit], *, save: bool = True) -> None:
        async def go() -> None:
            async with await ChangeSession.open(
                self.lab.target(TOKYO), self.lab.known_hosts()
            ) as session:
                result = await session.apply(edits)
                assert result.ok, result
                if save:
                    await session.save()

        asyncio.run(asyncio.wait_for(go(), 20))


def shown(result: SyncResult) -> list[str]:
    (item,) = result.routers
    assert item.drift is not None, item.error
    return sorted(str(e) for e in item.drift.shown())


def test_drift_is_found_put_right_and_then_gone(lab: LabThread) -> None:
    setup = Setup(lab)
    assert shown(setup.diff()) == []
    setup.change(
        [
            Edit(("interface GigaEthernet0.1",), f"no {FILTER}"),
            Edit(("interface Tunnel2.0",), "ip ospf cost 10"),
            Edit(("router bgp 65000", "address-family ipv4 unicast"), "no network 10.0.0.0/8"),
            Edit(("router bgp 65000", "address-family ipv6 unicast"), "network 10.0.0.0/8"),
        ]
    )
    found = shown(setup.diff())
    assert found == sorted(
        [
            f"interface GigaEthernet0.1 > {FILTER}",
            "interface Tunnel2.0 > ip ospf cost 100",
            "router bgp 65000 > address-family ipv4 unicast > network 10.0.0.0/8",
            "router bgp 65000 > address-family ipv6 unicast > no network 10.0.0.0/8",
        ]
    )
    result = setup.sync()
    (item,) = result.routers
    assert item.outcome == "verified", item.detail
    assert item.rehearsal is not None and item.rehearsal.ok
    router = lab.router(TOKYO)
    assert router.running.same_as(lines.parse(setup.want[TOKYO]))
    assert router.startup.same_as(router.running)  # saved after verification
    assert shown(setup.diff()) == []
    again = setup.sync()
    assert again.routers[0].outcome == "in-sync"
    config = setup.config()
    with Store.open(config.settings.state.resolved(config.base_dir)) as store:
        done = [a for a in actions_for(store, TOKYO) if a.rung == "peers-sync"]
    assert [a.outcome for a in done] == ["verified"]
    assert "interface Tunnel2.0 > ip ospf cost 100" in done[0].commands


def test_a_service_on_its_way_down_pushes_nothing_new(lab: LabThread) -> None:
    setup = Setup(lab)
    setup.change([Edit(("interface Tunnel2.0",), "ip ospf cost 10")])
    result = setup.sync(stopping=lambda: True)
    (left,) = result.routers  # not even read: the next run does it
    assert (left.outcome, left.drift, int(result.exit_code)) == ("skipped", None, 1), left
    assert ("interface Tunnel2.0", "ip ospf cost 10") in lab.router(TOKYO).running.paths
    (item,) = setup.sync().routers
    assert item.outcome == "verified", item.detail


def test_an_unsaved_config_is_refused(lab: LabThread) -> None:
    setup = Setup(lab)
    setup.change([Edit(("interface Tunnel2.0",), "ip ospf cost 10")], save=False)
    (item,) = setup.sync().routers
    assert item.outcome == "refused" and "not saved" in item.detail
    assert ("interface Tunnel2.0", "ip ospf cost 10") in lab.router(TOKYO).running.paths


def test_a_plan_touching_the_management_path_is_refused_unless_forced(lab: LabThread) -> None:
    setup = Setup(lab)
    path = lab.directory / "inventory.yaml"
    inventory = yaml.safe_load(path.read_text())
    inventory["routers"][TOKYO]["management"][0]["via"] = ["Tunnel2.0"]
    path.write_text(yaml.safe_dump(inventory))
    setup.change([Edit(("interface Tunnel2.0",), "ip ospf cost 10")])
    sent_before = len(lab.log(TOKYO).lines)
    (item,) = setup.sync().routers
    assert item.outcome == "refused" and "Tunnel2.0 carries" in item.detail
    assert ("interface Tunnel2.0", "ip ospf cost 10") in lab.router(TOKYO).running.paths
    assert "ip ospf cost 100" not in lab.log(TOKYO).lines[sent_before:]
    (forced,) = setup.sync(force=True).routers
    assert forced.outcome == "verified", forced.detail


def test_a_plan_the_twin_rejects_is_not_pushed(lab: LabThread) -> None:
    setup = Setup(lab)
    # A render that asks for a line no IX takes: the twin refuses it, the router never sees it.
    setup.want[TOKYO] = setup.want[TOKYO].replace(
        "interface Tunnel2.0\n", "interface Tunnel2.0\n  ip frobnicate 1 2 3\n"
    )
    sent_before = len(lab.log(TOKYO).lines)
    (item,) = setup.sync().routers
    assert item.outcome == "refused", item.detail
    assert item.rehearsal is not None and "frobnicate" in item.rehearsal.detail
    assert not any("frobnicate" in line for line in lab.log(TOKYO).lines[sent_before:])


def test_a_missing_secret_line_is_shown_masked_and_left_to_a_person(lab: LabThread) -> None:
    setup = Setup(lab)
    psk = "ikev2 authentication psk id keyid ix2215-kagawa key char ix2215-kagawa-psk"
    setup.change([Edit((), f"no {psk}")])
    found = shown(setup.diff())
    assert found == ["ikev2 authentication psk id keyid ix2215-kagawa key char ****"]
    (item,) = setup.sync().routers
    assert item.outcome == "held-back"
    assert "ix2215-kagawa-psk" not in item.detail and "****" in item.detail
    assert (psk,) not in lab.router(TOKYO).running.paths


def test_the_cli_on_the_seed_lab_renders_diffs_and_syncs(tmp_path: Path) -> None:
    """The real render (the lab's inventory describes the seed network) against the lab."""
    from click.testing import CliRunner

    from nmops.cli import main
    from tests.integration.labutil import KAGAWA

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, [*args, "--config", str(lab.config_path)])
        assert "Traceback" not in result.output, result.output
        return result.exit_code, result.stdout

    with LabThread(tmp_path / "lab") as lab:
        assert cli("peers", "diff") == (0, f"{TOKYO}: in sync\n{KAGAWA}: in sync\n")
        Setup(lab).change([Edit(("interface Tunnel2.0",), "ip ospf cost 10")])
        code, out = cli("peers", "diff")
        assert code == 1
        assert "- ip ospf cost 10" in out and "+ ip ospf cost 100" in out
        assert "interface Tunnel2.0 > ip ospf cost 100" in out  # the plan
        code, out = cli("peers", "sync", "--apply", "--json")
        doc = json.loads(out)
        assert code == 0, doc
        assert [(r["router"], r["outcome"]) for r in doc["routers"]] == [
            (TOKYO, "verified"),
            (KAGAWA, "in-sync"),
        ]
        assert doc["routers"][0]["rehearsal"]["ok"] is True
        assert cli("peers", "diff")[0] == 0
        secrets_dir = lab.directory / "secrets"
        for secret in secrets_dir.iterdir():
            value = secret.read_text().strip()
            assert value not in out


def test_a_router_with_a_pin_in_force_waits(lab: LabThread) -> None:
    """Sync saves, and a pin is never saved: while one holds, sync leaves the router be."""
    from nmops.state.pins import add_pin

    setup = Setup(lab)
    setup.change([Edit(("interface Tunnel2.0",), "ip ospf cost 10")])
    config = setup.config()
    with Store.open(config.settings.state.resolved(config.base_dir)) as store:
        add_pin(
            store,
            router=TOKYO,
            tunnel="Tunnel2.0",
            peer="ix2215-kagawa",
            family="ipv4",
            address="192.0.2.7",
            fqdn="ix2215-kagawa.fetburner.nmddns.jp",
            reason="test",
        )
    (item,) = setup.sync().routers
    assert item.outcome == "waiting" and "pin" in item.detail
    assert item.exit_code == 1
    assert ("interface Tunnel2.0", "ip ospf cost 10") in lab.router(TOKYO).running.paths
