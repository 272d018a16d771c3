"""`nmops trust` against the lab, and `nmops lab up|fault|clear|down` as real processes."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml
from click.testing import CliRunner

from nmops.cli import main
from nmops.ix.hostkeys import KnownHosts
from tests.integration.labutil import KAGAWA, TOKYO, LabThread

pytestmark = pytest.mark.lab

NMOPS = Path(sys.executable).parent / "nmops"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabThread]:
    with LabThread(tmp_path / "lab") as running:
        yield running


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def check_kagawa(lab: LabThread) -> tuple[int, dict[str, Any]]:
    code, output = invoke("check", "--config", str(lab.config_path), "--router", KAGAWA, "--json")
    return code, json.loads(output)


# --- nmops trust ------------------------------------------------------------------------------


def test_trust_pins_an_unknown_key(lab: LabThread) -> None:
    known = lab.directory / "known_hosts"
    known.write_text("")
    endpoint = lab.lab.endpoints[KAGAWA]

    code, doc = check_kagawa(lab)
    assert code == 1
    (router,) = doc["routers"]
    assert [f["status"] for f in router["findings"]] == ["unreachable"]
    assert "nmops trust" in router["router"]["error"]
    assert lab.log(KAGAWA).logins == 0

    code, output = invoke("trust", KAGAWA, "--config", str(lab.config_path))
    assert code == 0, output
    assert endpoint.fingerprint.startswith("SHA256:")
    assert f"{KAGAWA} [127.0.0.1]:{endpoint.port} {endpoint.fingerprint}: pinned" in output
    pinned = KnownHosts(known).lookup(endpoint.host, endpoint.port)
    assert pinned is not None
    assert pinned.fingerprint == endpoint.fingerprint
    assert KnownHosts(known).lookup("127.0.0.1", lab.lab.endpoints[TOKYO].port) is None

    code, output = invoke("trust", KAGAWA, "--config", str(lab.config_path))
    assert code == 0
    assert f"{endpoint.fingerprint}: already pinned" in output
    assert known.read_text().count("ssh-rsa") == 1

    code, doc = check_kagawa(lab)
    assert code == 0, doc
    assert doc["routers"][0]["router"]["reachable"] is True


def test_trust_refuses_a_changed_key_without_replace(lab: LabThread) -> None:
    known = lab.directory / "known_hosts"
    endpoint = lab.lab.endpoints[KAGAWA]
    impostor = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    KnownHosts(known).pin(endpoint.host, endpoint.port, impostor, replace=True)
    impostor_fp = str(impostor.get_fingerprint("sha256"))
    pinned_text = known.read_text()

    code, doc = check_kagawa(lab)
    assert code == 1
    error = doc["routers"][0]["router"]["error"]
    assert "HOST KEY CHANGED" in error
    assert impostor_fp in error
    assert lab.log(KAGAWA).logins == 0  # never logged in

    code, output = invoke("trust", KAGAWA, "--config", str(lab.config_path))
    assert code == 1, output
    assert endpoint.fingerprint in output
    assert "CHANGED" in output
    assert impostor_fp in output
    assert "--replace" in output
    assert known.read_text() == pinned_text  # not touched

    code, output = invoke("trust", KAGAWA, "--config", str(lab.config_path), "--replace")
    assert code == 0, output
    assert f"{endpoint.fingerprint}: replaced" in output
    pinned = KnownHosts(known).lookup(endpoint.host, endpoint.port)
    assert pinned is not None and pinned.fingerprint == endpoint.fingerprint
    # Tokyo's pin was kept.
    assert KnownHosts(known).lookup("127.0.0.1", lab.lab.endpoints[TOKYO].port) is not None

    code, doc = check_kagawa(lab)
    assert code == 0, doc


def test_trust_an_unreachable_router_fails(lab: LabThread) -> None:
    lab.fault(KAGAWA, "ssh-down")
    code, output = invoke("trust", KAGAWA, "--config", str(lab.config_path))
    assert code == 1
    endpoint = lab.lab.endpoints[KAGAWA]
    (line,) = [line for line in output.splitlines() if "cannot fetch: " in line]
    assert line.startswith(f"{KAGAWA} [127.0.0.1]:{endpoint.port} -: cannot fetch: "), line
    reason = line.split("cannot fetch: ", 1)[1].strip()
    assert reason, f"no reason after 'cannot fetch: ' in {line!r}"


# --- nmops lab as a process -------------------------------------------------------------------


class LabProcess:
    """`nmops lab up --dir D --fast` in the background."""

    def __init__(self, directory: Path, *extra: str) -> None:
        self.directory = directory
        self.proc = subprocess.Popen(
            [str(NMOPS), "lab", "up", "--dir", str(directory), "--fast", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self.lines: list[str] = []

    def wait_for(self, wanted: str, timeout: float) -> None:
        """Read stdout lines until one is ``wanted`` (raw reads: no buffer hides a line)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while wanted not in self.lines:
                left = deadline - time.monotonic()
                assert left > 0, f"no {wanted!r} within {timeout} s: {self.lines}"
                if not selector.select(left):
                    continue
                data = os.read(fd, 65536)
                assert data, f"lab exited ({self.proc.poll()}): {self.lines} {self.stderr()}"
                pending += data
                *complete, pending = pending.split(b"\n")
                self.lines += [line.decode().strip() for line in complete]

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def lab_process(tmp_path: Path) -> Iterator[LabProcess]:
    process = LabProcess(tmp_path / "lab-run")
    try:
        yield process
    finally:
        process.kill()


def nmops(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NMOPS), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1"},
    )


def ports(directory: Path) -> list[int]:
    inventory = yaml.safe_load((directory / "inventory.yaml").read_text())
    return [p["port"] for r in inventory["routers"].values() for p in r["management"]]


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_lab_up_fault_check_clear_down(lab_process: LabProcess) -> None:
    directory = lab_process.directory
    lab_process.wait_for("ready", timeout=30)
    assert any(line.startswith("2 routers; config: ") for line in lab_process.lines)
    assert (directory / "nmops.yaml").exists()
    assert (directory / "control.sock").exists()
    config = str(directory / "nmops.yaml")

    for kind in ("ddns-v6-stuck", "address-change"):
        done = nmops("lab", "fault", "--dir", str(directory), KAGAWA, kind)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ok"

    done = nmops("check", "--config", config, "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    statuses = {(r["name"], n["family"]): n["status"] for r in doc["routers"] for n in r["names"]}
    assert statuses == {
        (TOKYO, "ipv4"): "ok",
        (TOKYO, "ipv6"): "ok",
        (KAGAWA, "ipv4"): "stale",  # NetMeister hears at the client's next update
        (KAGAWA, "ipv6"): "stale",
    }

    bad = nmops("lab", "fault", "--dir", str(directory), KAGAWA, "no-such-fault")
    assert bad.returncode == 3
    assert "unknown fault 'no-such-fault'" in bad.stderr
    assert "ddns-v6-stuck" in bad.stderr

    done = nmops("lab", "clear", "--dir", str(directory), KAGAWA)
    assert done.returncode == 0, done.stderr
    done = nmops("check", "--config", config)
    assert done.returncode == 0, done.stdout + done.stderr  # re-registered once cleared

    router_ports = ports(directory)
    assert len(router_ports) == 2
    done = nmops("lab", "down", "--dir", str(directory))
    assert done.returncode == 0, done.stderr
    assert lab_process.proc.wait(10) == 0
    assert not (directory / "control.sock").exists()
    assert all(refused(port) for port in router_ports)

    gone = nmops("lab", "fault", "--dir", str(directory), KAGAWA, "slow")
    assert gone.returncode == 3
    assert "no lab running" in gone.stderr


def test_lab_up_stops_cleanly_on_sigterm(lab_process: LabProcess) -> None:
    lab_process.wait_for("ready", timeout=30)
    router_ports = ports(lab_process.directory)
    assert not any(refused(port) for port in router_ports)
    started = time.monotonic()
    lab_process.proc.send_signal(signal.SIGTERM)
    assert lab_process.proc.wait(10) == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in lab_process.stderr()
    assert not (lab_process.directory / "control.sock").exists()
    assert all(refused(port) for port in router_ports)


def test_lab_up_with_a_twin_from_a_file(tmp_path: Path) -> None:
    branch = Path(__file__).resolve().parents[1] / "data" / "ix" / "branch-bgp.conf"
    process = LabProcess(tmp_path / "lab-run", "--router-config", f"ix-branch={branch}")
    try:
        process.wait_for("ready", timeout=30)
        assert any(line.startswith("3 routers; config: ") for line in process.lines)
        config = str(tmp_path / "lab-run" / "nmops.yaml")
        done = nmops("check", "--config", config, "--router", "ix-branch")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "branch.fetburner.v6.nmddns.jp" in done.stdout
        assert nmops("lab", "down", "--dir", str(tmp_path / "lab-run")).returncode == 0
        assert process.proc.wait(10) == 0
    finally:
        process.kill()
    bad = nmops("lab", "up", "--dir", str(tmp_path / "x"), "--router-config", "nofile")
    assert bad.returncode == 3
    assert "NAME=FILE" in bad.stderr
