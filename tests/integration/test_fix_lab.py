"""`nmops fix` on the lab over real SSH: the ladder stops at the rung that cures, the policy
holds reboots back, the journal puts interrupted steps back, one actor at a time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from nmops.apply import Applier
from nmops.cli import main
from nmops.config.load import load_config
from nmops.ix.lines import Edit
from nmops.ix.session import ChangeSession
from nmops.lab.ixsim import Timings
from nmops.plan import Rung, Step
from nmops.state import Store, start_run, unfinished
from nmops.state.pins import open_pins
from nmops.state.schema import pins as pins_table
from tests.integration.labutil import KAGAWA, READ_ONLY_COMMANDS, TOKYO, LabThread

pytestmark = pytest.mark.lab

NMOPS = Path(sys.executable).parent / "nmops"
NOTIFY_V6 = "nm ddns notify interface GigaEthernet2.0 protocol ipv6"


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    with LabThread(tmp_path / "lab") as running:
        yield running


def cli(lab: LabThread, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(lab.config_path)])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout


def fix(lab: LabThread, *args: str) -> tuple[int, dict[str, Any]]:
    code, out = cli(lab, "fix", *args, "--json")
    assert out.lstrip().startswith("{"), out
    return code, json.loads(out)


def steps(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["router"], a["step"], a["outcome"]) for a in doc["applied"] or []]


def policy(lab: LabThread, **values: Any) -> None:
    path = lab.config_path
    settings = yaml.safe_load(path.read_text())
    settings["policy"].update(values)
    path.write_text(yaml.safe_dump(settings))


def change(lab: LabThread, router: str, edits: list[Edit], *, save: bool) -> None:
    async def go() -> None:
        async with await ChangeSession.open(lab.target(router), lab.known_hosts()) as session:
            assert (await session.apply(edits)).ok
            if save:
                await session.save()

    asyncio.run(asyncio.wait_for(go(), 20))
    lab.settle()


def broken(lab: LabThread, router: str, *faults: str) -> None:
    """Faults, then the first bad check (the fix's own check is the second)."""
    for kind in faults:
        lab.fault(router, kind)
    code, _ = cli(lab, "check")
    assert code == 2


# --- the ladder ------------------------------------------------------------------------------


def test_stuck_ipv6_only_a_reboot_helps(lab: LabThread) -> None:
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    code, doc = fix(lab, "--apply")
    assert code == 0, doc
    assert steps(doc) == [
        (KAGAWA, "reregister", "partial"),  # the A record followed, the AAAA did not
        (KAGAWA, "client-restart", "no-effect"),
        (KAGAWA, "reboot", "verified"),
        (KAGAWA, "needs-human", "skipped"),
    ]
    assert lab.log(KAGAWA).lines.count("reload") == 1
    assert lab.router(KAGAWA).reloads == 1
    assert "write memory" not in lab.log(KAGAWA).lines  # nothing changed the saved config
    assert cli(lab, "check")[0] == 0


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("ddns-v6-needs-restart", [("reregister", "partial"), ("client-restart", "verified")]),
        ("ddns-v6-needs-reregister", [("reregister", "verified")]),
    ],
)
def test_variants_stop_at_the_rung_that_cures(
    lab: LabThread, fault: str, expected: list[tuple[str, str]]
) -> None:
    broken(lab, KAGAWA, fault, "address-change")
    code, doc = fix(lab, "--apply")
    assert code == 0, doc
    done = [(s, o) for _, s, o in steps(doc) if o != "skipped"]
    assert done == expected
    assert lab.router(KAGAWA).reloads == 0
    assert cli(lab, "check")[0] == 0


def test_an_address_change_is_fixed_by_re_registering(lab: LabThread) -> None:
    broken(lab, KAGAWA, "address-change")
    code, doc = fix(lab, "--apply")
    assert code == 0, doc
    assert [(s, o) for _, s, o in steps(doc) if o != "skipped"] == [("reregister", "verified")]
    assert lab.router(KAGAWA).reloads == 0
    assert "write memory" not in lab.log(KAGAWA).lines


def test_a_missing_notify_line_is_added_and_saved_once(lab: LabThread) -> None:
    change(lab, KAGAWA, [Edit((), f"no {NOTIFY_V6}")], save=True)
    broken(lab, KAGAWA, "address-change")
    code, doc = fix(lab, "--apply")
    assert code == 0, doc
    assert [(s, o) for _, s, o in steps(doc) if o != "skipped"] == [("config-fix", "verified")]
    router = lab.router(KAGAWA)
    assert (NOTIFY_V6,) in router.running.paths and (NOTIFY_V6,) in router.startup.paths
    assert lab.log(KAGAWA).lines.count("write memory") == 2  # ours once, and the setup's


def test_a_problem_seen_once_is_not_acted_on(lab: LabThread) -> None:
    lab.fault(KAGAWA, "address-change")
    code, doc = fix(lab, "--apply")
    assert doc["applied"] == []
    assert [w["problem"] for w in doc["waiting"]] == ["name:ipv4", "name:ipv6"]
    assert code == 2
    sent = lab.log(KAGAWA).lines
    assert "no nm ip enable" not in sent and not any(s.startswith("no nm ddns") for s in sent)


# --- the policy ------------------------------------------------------------------------------


def test_the_reboot_budget_holds_a_second_reboot(lab: LabThread) -> None:
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    assert fix(lab, "--apply")[0] == 0
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    code, doc = fix(lab, "--apply")
    assert code == 2
    outcomes = dict((s, o) for _, s, o in steps(doc))
    assert outcomes["reboot"] == "blocked"
    assert outcomes["needs-human"] == "needs-human"
    assert any("budget spent" in a["detail"] for a in doc["applied"])
    assert lab.router(KAGAWA).reloads == 1


def test_both_ends_of_a_link_one_reboot_now(lab: LabThread) -> None:
    for router in (TOKYO, KAGAWA):
        lab.fault(router, "ddns-v6-stuck")
        lab.fault(router, "address-change")
    assert cli(lab, "check")[0] == 2
    code, doc = fix(lab, "--apply")
    reboots = [(r, o) for r, s, o in steps(doc) if s == "reboot"]
    assert sorted(o for _, o in reboots) == ["blocked", "verified"], reboots
    held = next(a for a in doc["applied"] if a["step"] == "reboot" and a["outcome"] == "blocked")
    assert "link_gap" in held["detail"]
    assert lab.router(TOKYO).reloads + lab.router(KAGAWA).reloads == 1
    assert code == 2  # one end still needs a person (or the next day)


def test_quiet_hours_hold_reboots(lab: LabThread) -> None:
    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    start, end = (now.hour) % 24, (now.hour + 2) % 24
    policy(lab, quiet_hours=f"{start:02d}:00-{end:02d}:00")
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    code, doc = fix(lab, "--apply")
    reboot = next(a for a in doc["applied"] if a["step"] == "reboot")
    assert reboot["outcome"] == "blocked" and "quiet hours" in reboot["detail"]
    assert lab.router(KAGAWA).reloads == 0
    assert code == 2


def test_an_unsaved_config_refuses_the_reboot_and_sends_no_reload(lab: LabThread) -> None:
    change(lab, KAGAWA, [Edit((), "ip access-list unsaved permit ip src any dest any")], save=False)
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    code, doc = fix(lab, "--apply")
    reboot = next(a for a in doc["applied"] if a["step"] == "reboot")
    assert reboot["outcome"] == "blocked" and "not saved" in reboot["detail"]
    assert "reload" not in lab.log(KAGAWA).lines
    assert code == 2


def test_a_reload_that_hangs_is_lost_and_not_retried(lab: LabThread) -> None:
    broken(lab, KAGAWA, "reload-hangs", "ddns-v6-stuck", "address-change")
    policy(lab, reboot_wait=3)
    code, doc = fix(lab, "--apply")
    assert code == 2
    assert (KAGAWA, "reboot", "lost") in steps(doc)
    # The next run: no retry storm; the router is `lost` until a person has looked.
    code, doc = fix(lab, "--apply", "--wait", "0")
    assert code == 2
    assert steps(doc) == []
    assert lab.log(KAGAWA).lines.count("reload") == 1
    code, out = cli(lab, "check", "--json")
    assert code == 2
    (kagawa,) = [r for r in json.loads(out)["routers"] if r["name"] == KAGAWA]
    assert [f["status"] for f in kagawa["findings"]][:1] == ["lost"]


def test_a_dry_run_sends_no_config_command(lab: LabThread) -> None:
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    before = {name: lab.log(name) for name in (TOKYO, KAGAWA)}
    code, doc = fix(lab)
    assert code == 2
    assert doc["applied"] is None
    assert [s["step"] for s in doc["steps"]] == [
        "reregister",
        "client-restart",
        "reboot",
        "needs-human",
    ]
    for name, log in before.items():
        sent = lab.log(name).since(log).lines
        assert {s for s in sent if not s.startswith("show ")} <= READ_ONLY_COMMANDS, sent


def test_actions_off_and_plan_are_kill_switches(lab: LabThread) -> None:
    broken(lab, KAGAWA, "address-change")
    policy(lab, actions="plan")
    result = CliRunner().invoke(main, ["fix", "--apply", "--config", str(lab.config_path)])
    assert result.exit_code == 3
    assert "policy.actions is plan" in result.output
    policy(lab, actions="off")
    assert cli(lab, "fix")[0] == 3
    assert "no nm ddns" not in " ".join(lab.log(KAGAWA).lines)


def test_a_reviewed_plan_is_applied_only_while_it_is_the_plan(lab: LabThread) -> None:
    broken(lab, KAGAWA, "address-change")
    _, reviewed = fix(lab)
    # Meanwhile the situation changes: the plan would now start with a config fix.
    change(lab, KAGAWA, [Edit((), f"no {NOTIFY_V6}")], save=True)
    before = lab.log(KAGAWA)
    result = CliRunner().invoke(
        main, ["fix", "--plan", reviewed["plan"], "--config", str(lab.config_path)]
    )
    assert result.exit_code == 3
    assert "not the reviewed" in result.output
    sent = lab.log(KAGAWA).since(before).lines
    assert {line for line in sent if not line.startswith("show ")} <= READ_ONLY_COMMANDS
    _, current = fix(lab)
    assert current["plan"] != reviewed["plan"]
    assert current["steps"][0]["step"] == "config-fix"
    code, doc = fix(lab, "--plan", current["plan"])
    assert code == 0, doc
    assert steps(doc)[0] == (KAGAWA, "config-fix", "verified")


# --- applying safely -------------------------------------------------------------------------


def test_a_line_rejected_mid_step_is_put_back(lab: LabThread) -> None:
    config = load_config(lab.config_path)
    router = config.inventory.routers[KAGAWA]
    before = lab.router(KAGAWA).running
    step = Step(
        KAGAWA,
        Rung.CONFIG_FIX,
        ("name:ipv6",),
        "test",
        (
            Edit((), "ip access-list nmops-a permit ip src any dest any"),
            Edit(("interface Tunnel1.0",), "description half"),
            Edit((), "ip frobnicate 1 2 3"),
            Edit((), "ip access-list nmops-b permit ip src any dest any"),
        ),
    )

    async def go() -> Any:
        with Store.open(config.settings.state.resolved(config.base_dir)) as store:
            applier = Applier(config, store, start_run(store, "fix", 1), "p", "h", lambda *_: None)
            result = await applier.run_router(router, [step])
            return result, unfinished(store)

    (result,), left = asyncio.run(go())
    assert result.outcome == "undone", result
    assert "frobnicate" in result.detail
    assert lab.router(KAGAWA).running.same_as(before)
    assert left == []
    assert "ip access-list nmops-b permit ip src any dest any" not in lab.log(KAGAWA).lines


def test_killed_between_no_nm_ip_enable_and_nm_ip_enable(tmp_path: Path) -> None:
    """SIGKILL in the window (replies are slowed to widen it): the next fix puts
    `nm ip enable` back first, and says so."""
    slow = Timings(
        ddns_delay=0.15, reload_delay=0.4, slow_delay=0.2, save_delay=0.05, reply_delay=0.4
    )
    with LabThread(tmp_path / "lab", timings=slow) as lab:
        broken(lab, KAGAWA, "ddns-v6-needs-restart", "address-change")
        env = {**os.environ, "NO_COLOR": "1"}
        proc = subprocess.Popen(
            [str(NMOPS), "fix", "--apply", "--config", str(lab.config_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while "no nm ip enable" not in lab.log(KAGAWA).lines:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        # The router still acts on the line it had received (after its slow reply).
        deadline = time.monotonic() + 10
        while ("nm ip enable",) in lab.router(KAGAWA).running.paths:
            assert time.monotonic() < deadline, "the router never took `no nm ip enable`"
            time.sleep(0.05)
        time.sleep(1)  # and had time to take the next line, had one been sent
        assert ("nm ip enable",) not in lab.router(KAGAWA).running.paths  # left half-done
        result = CliRunner().invoke(
            main, ["fix", "--apply", "--wait", "200", "--config", str(lab.config_path)]
        )
        assert "interrupted step" in result.output
        assert "put back" in result.output
        assert ("nm ip enable",) in lab.router(KAGAWA).running.paths
        config = load_config(lab.config_path)
        with Store.open(config.settings.state.resolved(config.base_dir)) as store:
            assert unfinished(store) == []


def test_two_fixes_at_once_one_acts_the_other_waits(lab: LabThread) -> None:
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    env = {**os.environ, "NO_COLOR": "1"}
    command = [str(NMOPS), "fix", "--apply", "--json", "--config", str(lab.config_path)]
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    time.sleep(0.3)
    second = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert "waiting: the lease is held by nmops fix --apply" in err1 + err2
    assert lab.router(KAGAWA).reloads == 1  # the second re-planned after the first: all well
    docs = [json.loads(out1), json.loads(out2)]
    acted = [d for d in docs if d["applied"]]
    assert len(acted) == 1
    assert {first.returncode, second.returncode} == {0}


# --- pins (policy.pin) -----------------------------------------------------------------------


def test_a_pin_holds_while_the_peer_name_is_stuck_and_goes_after_the_repair(
    lab: LabThread,
) -> None:
    policy(lab, pin="on", max_reboots=0)  # the stuck name stays stuck until reboots are allowed
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    code, doc = fix(lab, "--apply")
    # Both of Tokyo's tunnels to Kagawa had a broken name when the plan was made (the A
    # record too, until the re-registration): each is pinned to the address Kagawa's CLI shows.
    assert [(r, s, o) for r, s, o in steps(doc) if s == "pin"] == [(TOKYO, "pin", "verified")] * 2
    kagawa_v6 = lab.router(KAGAWA).own_address(6)
    tokyo = lab.router(TOKYO)
    v6_pin = f"ikev2 peer {kagawa_v6} authentication psk id keyid ix2215-kagawa"
    assert ("interface Tunnel1.0", v6_pin) in tokyo.running.paths
    assert not tokyo.startup.same_as(tokyo.running)  # a pin is never saved
    code, out = cli(lab, "check")
    assert f"pinned: {TOKYO} Tunnel1.0 -> {kagawa_v6}" in out
    # The A record is right again: that pin goes; the AAAA is still stuck: that one stays.
    code, doc = fix(lab, "--apply")
    assert [(r, s, o) for r, s, o in steps(doc) if s in ("pin", "unpin")] == [
        (TOKYO, "unpin", "verified")
    ]
    assert ("interface Tunnel1.0", v6_pin) in tokyo.running.paths
    # Reboots allowed: the reboot cures the name, and the next run takes the last pin back.
    policy(lab, max_reboots=1)
    code, doc = fix(lab, "--apply")
    assert (KAGAWA, "reboot", "verified") in steps(doc)
    cli(lab, "check")
    code, doc = fix(lab, "--apply")
    assert [(r, s, o) for r, s, o in steps(doc) if s == "unpin"] == [(TOKYO, "unpin", "verified")]
    peer_lines = {p for p in tokyo.running.paths if len(p) == 2 and "ikev2 peer" in p[1]}
    assert peer_lines == {
        ("interface Tunnel1.0", "ikev2 peer-fqdn-ipv6 ix2215-kagawa.fetburner.v6.nmddns.jp "
         "authentication psk id keyid ix2215-kagawa"),
        ("interface Tunnel2.0", "ikev2 peer-fqdn-ipv4 ix2215-kagawa.fetburner.nmddns.jp "
         "authentication psk id keyid ix2215-kagawa"),
    }  # fmt: skip
    assert tokyo.startup.same_as(tokyo.running)  # back to the saved config exactly
    code, out = cli(lab, "check")
    assert "pinned:" not in out
    code, out = cli(lab, "history", TOKYO)
    assert code == 0 and "pin" in out and "unpin" in out


AGO = timedelta(minutes=5)


def test_a_pin_a_reboot_took_back_is_over_and_is_set_again(lab: LabThread) -> None:
    from nmops.lab.ixsim.router import State

    policy(lab, pin="on", max_reboots=0)
    broken(lab, KAGAWA, "ddns-v6-stuck", "address-change")
    fix(lab, "--apply")
    kagawa_v6 = lab.router(KAGAWA).own_address(6)
    tokyo = lab.router(TOKYO)
    v6_pin = f"ikev2 peer {kagawa_v6} authentication psk id keyid ix2215-kagawa"
    assert ("interface Tunnel1.0", v6_pin) in tokyo.running.paths
    # Tokyo reboots (a power cut): a pin is never saved, so the name is back in its config.
    lab.call(tokyo.reload)
    deadline = time.monotonic() + 30
    while lab.call(lambda: tokyo.state) is not State.UP:
        assert time.monotonic() < deadline, "tokyo did not come back"
        time.sleep(0.1)
    assert ("interface Tunnel1.0", v6_pin) not in tokyo.running.paths
    # A pin younger than the check may be newer than the config it read (a fix beside it):
    # it is judged by a later check.
    _, out = cli(lab, "check")
    assert "pinned:" in out
    config = load_config(lab.config_path)
    with Store.open(config.settings.state.resolved(config.base_dir)) as store:
        for pin in open_pins(store):  # some minutes pass
            with store.begin() as conn:
                older = sa.update(pins_table).where(pins_table.c.id == pin.id)
                conn.execute(older.values(pinned_at=pin.pinned_at - AGO))
    _, out = cli(lab, "check")
    assert "pinned:" not in out  # the check saw it go: the pin is over
    with Store.open(config.settings.state.resolved(config.base_dir)) as store:
        assert [p for p in open_pins(store) if p.router == TOKYO] == []
    # Kagawa's AAAA is still stuck: the next repair pins the tunnel again.
    _, doc = fix(lab, "--apply")
    assert (TOKYO, "pin", "verified") in steps(doc)
    assert ("interface Tunnel1.0", v6_pin) in tokyo.running.paths
