"""``nmops check`` end to end: the CLI against real BIND 9, exit codes 0/1/2/3, ``--json``
(schema ``nmops.check/1``), ``--quiet``, ``--router``, and config errors (exit 3, no traceback)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from nmops.cli import main
from nmops.lab.bind import Bind, free_port
from nmops.lab.configs import LabRouter
from tests.conftest import fqdns_of, publish

MakeConfig = Callable[..., Path]
BAD = Path(__file__).resolve().parent.parent / "data" / "config" / "bad"


def nmops(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def check_json(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = nmops("check", "--config", str(path), "--json", *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def assert_schema(doc: dict[str, Any]) -> None:
    """The ``nmops.check/1`` shape: keys and types, whatever the values."""
    assert doc["schema"] == "nmops.check/1"
    assert doc["status"] in {"ok", "warning", "critical", "unknown"}
    assert doc["exit_code"] == ["ok", "warning", "critical", "unknown"].index(doc["status"])
    assert isinstance(doc["routers"], list)
    for router in doc["routers"]:
        assert set(router) >= {"name", "status", "names"}
        for n in router["names"]:
            assert set(n) >= {
                "fqdn",
                "family",
                "rdtype",
                "status",
                "partial",
                "addresses",
                "ttl",
                "servers",
            }
            assert (n["family"], n["rdtype"]) in {("ipv4", "A"), ("ipv6", "AAAA")}
            assert isinstance(n["partial"], bool)
            assert all(isinstance(a, str) for a in n["addresses"])
            assert n["ttl"] is None or isinstance(n["ttl"], int)
            for s in n["servers"]:
                assert set(s) >= {"server", "status", "addresses", "ttl"}
                assert isinstance(s["server"], str) and isinstance(s["addresses"], list)


@pytest.mark.bind
def test_ok_exit_0_json(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "cli-ok", a=["203.0.113.110"], aaaa=["2001:db8:110::1"])
    router = LabRouter("cli-ok", expect={"ipv4": ["203.0.113.110"]})
    code, doc = check_json(make_config([bind.address], [router]))
    assert code == 0
    assert_schema(doc)
    assert (doc["status"], doc["exit_code"]) == ("ok", 0)
    (r,) = doc["routers"]
    assert (r["name"], r["status"]) == ("cli-ok", "ok")
    v4, v6 = r["names"]
    a_name, aaaa_name = fqdns_of("cli-ok")
    assert (v4["fqdn"], v4["family"], v4["rdtype"], v4["status"], v4["partial"]) == (
        a_name,
        "ipv4",
        "A",
        "ok",
        False,
    )
    assert (v4["addresses"], v4["ttl"]) == (["203.0.113.110"], bind.ttl)
    assert v4["servers"] == [
        {
            "server": bind.address,
            "status": "ok",
            "addresses": ["203.0.113.110"],
            "ttl": bind.ttl,
            "detail": None,
        }
    ]
    assert (v6["fqdn"], v6["rdtype"], v6["addresses"]) == (aaaa_name, "AAAA", ["2001:db8:110::1"])
    assert doc["stats"]["queries"] == 2


@pytest.mark.bind
def test_disagree_exit_1(bind: Bind, bind2: Bind, make_config: MakeConfig) -> None:
    publish(bind, "cli-split", a=["203.0.113.120"], aaaa=["2001:db8:120::1"])
    publish(bind2, "cli-split", a=["203.0.113.121"], aaaa=["2001:db8:120::1"])
    code, doc = check_json(make_config([bind.address, bind2.address], ["cli-split"]))
    assert code == 1
    assert_schema(doc)
    assert doc["status"] == "warning"
    v4, v6 = doc["routers"][0]["names"]
    assert (v4["status"], sorted(v4["addresses"])) == (
        "disagree",
        ["203.0.113.120", "203.0.113.121"],
    )
    assert {s["server"]: s["addresses"] for s in v4["servers"]} == {
        bind.address: ["203.0.113.120"],
        bind2.address: ["203.0.113.121"],
    }
    assert v6["status"] == "ok"


@pytest.mark.bind
def test_partial_exit_1(bind: Bind, dead_server: str, make_config: MakeConfig) -> None:
    publish(bind, "cli-partial", a=["203.0.113.125"], aaaa=["2001:db8:125::1"])
    path = make_config([bind.address, dead_server], ["cli-partial"], timeout=0.3, retries=1)
    code, doc = check_json(path)
    assert code == 1
    for n in doc["routers"][0]["names"]:
        assert (n["status"], n["partial"]) == ("ok", True)
        assert sorted(s["status"] for s in n["servers"]) == ["ok", "timeout"]


def dead_ipv6_server() -> str:
    """``[::1]:PORT`` with nothing listening (where the host has no IPv6, any port: the
    socket itself fails, which must be as harmless)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
            udp.bind(("::1", 0))
            port = int(udp.getsockname()[1])
    except OSError:
        port = free_port()
    return f"[::1]:{port}"


@pytest.mark.bind
def test_dead_ipv6_server_beside_a_working_one_is_partial(
    bind: Bind, make_config: MakeConfig
) -> None:
    publish(bind, "cli-partial6", a=["203.0.113.126"], aaaa=["2001:db8:126::1"])
    dead = dead_ipv6_server()
    path = make_config([bind.address, dead], ["cli-partial6"], timeout=0.3, retries=1)
    result = nmops("check", "--config", str(path), "--json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert_schema(doc)
    assert doc["status"] == "warning"
    for n in doc["routers"][0]["names"]:
        assert (n["status"], n["partial"]) == ("ok", True), n
        by_server = {s["server"]: s for s in n["servers"]}
        assert set(by_server) == {bind.address, dead}
        assert by_server[bind.address]["status"] == "ok"
        # Refused (ICMP port unreachable), a timeout, or no socket at all: never an answer.
        assert by_server[dead]["status"] in {"timeout", "error"}
        assert by_server[dead]["addresses"] == []


@pytest.mark.bind
def test_missing_exit_2(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "cli-missing", a=["203.0.113.130"], aaaa=[])
    code, doc = check_json(make_config([bind.address], ["cli-missing"]))
    assert code == 2
    assert doc["status"] == "critical"
    assert [n["status"] for n in doc["routers"][0]["names"]] == ["ok", "missing"]


@pytest.mark.bind
def test_all_servers_down_exit_3(make_config: MakeConfig, dead_server: str) -> None:
    code, doc = check_json(make_config([dead_server], ["cli-down"], timeout=0.3, retries=1))
    assert code == 3
    assert_schema(doc)
    assert doc["status"] == "unknown"
    assert {n["status"] for n in doc["routers"][0]["names"]} == {"timeout"}


@pytest.mark.bind
def test_quiet_prints_nothing_when_ok(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "cli-quiet", a=["203.0.113.140"], aaaa=["2001:db8:140::1"])
    result = nmops("check", "--config", str(make_config([bind.address], ["cli-quiet"])), "--quiet")
    assert result.exit_code == 0
    assert result.output == ""


@pytest.mark.bind
def test_quiet_shows_only_problems(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "cli-quiet-ok", a=["203.0.113.141"], aaaa=["2001:db8:141::1"])
    publish(bind, "cli-quiet-bad", a=["203.0.113.142"], aaaa=[])
    path = make_config([bind.address], ["cli-quiet-ok", "cli-quiet-bad"])
    result = nmops("check", "--config", str(path), "--quiet")
    assert result.exit_code == 2
    assert "cli-quiet-bad.fetburner.v6.nmddns.jp" in result.stdout
    assert "missing" in result.stdout
    assert "cli-quiet-ok" not in result.stdout
    assert "cli-quiet-bad.fetburner.nmddns.jp" not in result.stdout


@pytest.mark.bind
def test_table_output(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "cli-table", a=["203.0.113.150"], aaaa=None)
    result = nmops("check", "--config", str(make_config([bind.address], ["cli-table"])))
    assert result.exit_code == 2
    out = result.stdout
    for text in ("cli-table.fetburner.nmddns.jp", "203.0.113.150", "ok", "nxdomain"):
        assert text in out


@pytest.mark.bind
def test_router_option_selects(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "cli-one", a=["203.0.113.160"], aaaa=["2001:db8:160::1"])
    publish(bind, "cli-two", a=None, aaaa=None)
    path = make_config([bind.address], ["cli-one", "cli-two"])
    code, doc = check_json(path, "--router", "cli-one")
    assert (code, [r["name"] for r in doc["routers"]]) == (0, ["cli-one"])
    code, doc = check_json(path, "--router", "cli-two")
    assert (code, [r["name"] for r in doc["routers"]]) == (2, ["cli-two"])
    code, doc = check_json(path)
    assert (code, [r["name"] for r in doc["routers"]]) == (2, ["cli-one", "cli-two"])


@pytest.mark.bind
def test_config_from_environment(bind: Bind, make_config: MakeConfig) -> None:
    publish(bind, "cli-env", a=["203.0.113.170"], aaaa=["2001:db8:170::1"])
    path = make_config([bind.address], ["cli-env"])
    result = nmops("check", "--json", env={"NMOPS_CONFIG": str(path)})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["routers"][0]["name"] == "cli-env"


def test_unknown_router_exit_3(make_config: MakeConfig) -> None:
    path = make_config(["127.0.0.1:53"], ["cli-known"])
    result = nmops("check", "--config", str(path), "--router", "cli-unknown")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "no router named 'cli-unknown' in the inventory" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (
            "inventory-bad-interface.yaml",
            "inventory-bad-interface.yaml:8: routers.ix2215-tokyo.ddns.ipv6: "
            "'GigaEthernet2.O' is not an IX interface name",
        ),
        ("inventory-duplicate-key.yaml", "inventory-duplicate-key.yaml:7: "),
        ("inventory-yaml-syntax.yaml", "inventory-yaml-syntax.yaml:6: invalid YAML"),
    ],
)
def test_config_error_exit_3(tmp_path: Path, name: str, problem: str) -> None:
    settings = tmp_path / "nmops.yaml"
    settings.write_text(f"inventory: {BAD / name}\n", encoding="utf-8")
    result = nmops("check", "--config", str(settings))
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "configuration error" in result.stderr
    assert problem in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("servers", "255.255.255.255", "'255.255.255.255': a DNS server is a unicast address"),
        ("servers", "0.0.0.0", "'0.0.0.0': a DNS server is a unicast address"),
        ("servers", "0.0.0.0:5353", "'0.0.0.0:5353': a DNS server is a unicast address"),
        ("servers", "[::]:53", "'[::]:53': a DNS server is a unicast address"),
        ("servers", "224.0.0.251", "'224.0.0.251': a DNS server is a unicast address"),
        ("bootstrap", "255.255.255.255", "'255.255.255.255': a DNS server is a unicast address"),
    ],
)
def test_non_unicast_server_is_a_config_error(
    tmp_path: Path, key: str, value: str, problem: str
) -> None:
    good = Path(__file__).resolve().parent.parent / "data" / "config" / "good"
    settings = tmp_path / "nmops.yaml"
    settings.write_text(
        f"inventory: {good / 'inventory.yaml'}\n"
        "dns:\n"
        f"  {key}:\n"
        '    - "127.0.0.1:53"\n'
        f'    - "{value}"\n',
        encoding="utf-8",
    )
    result = nmops("check", "--config", str(settings))
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert lines == ["configuration error", f"nmops.yaml:5: dns.{key}.1: {problem}"]


def test_config_error_names_every_problem(tmp_path: Path) -> None:
    settings = tmp_path / "nmops.yaml"
    settings.write_text(f"inventory: {BAD / 'inventory-many-problems.yaml'}\n", encoding="utf-8")
    result = nmops("check", "--config", str(settings))
    assert result.exit_code == 3
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert lines[0] == "configuration error"
    assert [line.split(":")[1] for line in lines[1:]] == ["5", "8", "11"]


def test_missing_config_exit_3(tmp_path: Path) -> None:
    result = nmops("check", "--config", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 3
    assert "absent.yaml: cannot read" in result.stderr
    assert "Traceback" not in result.output


def console_script() -> str | None:
    beside = Path(sys.executable).parent / "nmops"
    if beside.exists():
        return str(beside)
    return shutil.which("nmops")


def test_console_script_config_error_no_traceback(tmp_path: Path) -> None:
    """The installed ``nmops`` command, as cron or a monitoring agent runs it."""
    script = console_script()
    if script is None:
        pytest.fail("the nmops console script is not installed (pip install -e .)")
    settings = tmp_path / "nmops.yaml"
    settings.write_text(f"inventory: {BAD / 'inventory-literal-password.yaml'}\n")
    env = {k: v for k, v in os.environ.items() if k != "NMOPS_CONFIG"}
    done = subprocess.run(
        [script, "check", "--config", str(settings)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 3
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "inventory-literal-password.yaml:4: netmeister.password: " in done.stderr
    assert "hunter2" not in done.stderr
