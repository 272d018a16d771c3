"""`nmops peers render` and `nmops peers lint` from the command line: secrets masked on
stdout, real only in the files `--out` writes (mode 0600); lint's exit codes and JSON."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nmops.cli import main
from nmops.ix import lines
from nmops.peers.render import PLACEHOLDER
from tests.unit.peerkit import GOLDEN, ROOT, SEED_SECRETS, load, mesh

SEED_CONFIG = ROOT / "config" / "nmops.yaml"


def nmops(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SEED_SECRETS:
        monkeypatch.delenv(name, raising=False)


def test_render_to_stdout_masks_every_secret(no_secrets: None) -> None:
    result = nmops("peers", "render", "--config", str(SEED_CONFIG), env=SEED_SECRETS)
    assert result.exit_code == 0, result.output
    for value in SEED_SECRETS.values():
        assert value not in result.stdout
    assert f"key char {PLACEHOLDER}" in result.stdout
    assert result.stdout.count("hostname ") == 2
    # Both routers in one stream, each introduced by a comment line: it parses back.
    assert "! nmops peers render: ix2215-kagawa" in result.stdout
    one = nmops("peers", "render", "ix2215-kagawa", "--config", str(SEED_CONFIG))
    assert one.exit_code == 0 and one.stdout.startswith("hostname ix2215-kagawa\n")


def test_render_out_writes_private_files_with_the_secrets(no_secrets: None, tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    result = nmops(
        "peers", "render", "--config", str(SEED_CONFIG), "--out", str(out), env=SEED_SECRETS
    )
    assert result.exit_code == 0, result.output
    for value in SEED_SECRETS.values():
        assert value not in result.output
    for name in ("ix2215-tokyo", "ix2215-kagawa"):
        path = out / f"{name}.conf"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        golden = lines.parse((GOLDEN / f"{name}.conf").read_text())
        assert lines.parse(path.read_text()).same_as(golden)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert sorted(p.name for p in out.iterdir()) == ["ix2215-kagawa.conf", "ix2215-tokyo.conf"]


def test_render_out_without_the_secrets_lists_them_all_and_writes_nothing(
    no_secrets: None, tmp_path: Path
) -> None:
    out = tmp_path / "rendered"
    result = nmops("peers", "render", "--config", str(SEED_CONFIG), "--out", str(out))
    assert result.exit_code == 3
    assert "configuration error" in result.stderr
    for name in SEED_SECRETS:
        assert name in result.stderr
    assert not out.exists()


def _config(tmp_path: Path, data: dict[str, object]) -> Path:
    load(tmp_path, data)  # writes inventory.yaml (and validates it)
    path = tmp_path / "nmops.yaml"
    path.write_text("inventory: inventory.yaml\n", encoding="utf-8")
    return path


def test_lint_clean_seed_exits_0() -> None:
    result = nmops("peers", "lint", "--config", str(SEED_CONFIG))
    assert result.exit_code == 0, result.output
    doc = json.loads(nmops("peers", "lint", "--config", str(SEED_CONFIG), "--json").stdout)
    assert doc["schema"] == "nmops.lint/1" and doc["findings"] == [] and doc["exit_code"] == 0
    assert doc["source"] == "rendered"


def test_lint_errors_exit_2_with_json(tmp_path: Path) -> None:
    data = mesh(3)
    routers = data["routers"]
    assert isinstance(routers, dict)
    routers["ix-r3"]["lan"] = {"interface": "GigaEthernet2.0", "address": "10.1.0.129/25"}
    config = _config(tmp_path, data)
    result = nmops("peers", "lint", "--config", str(config), "--json")
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    found = {(f["code"], f["router"], f["severity"]) for f in doc["findings"]}
    assert found == {("lan-overlap", "ix-r1", "error"), ("lan-overlap", "ix-r3", "error")}
    assert all(f["hint"] and f["line"] for f in doc["findings"])
    only = nmops("peers", "lint", "ix-r2", "--config", str(config))
    assert only.exit_code == 0, only.output
    text = nmops("peers", "lint", "--config", str(config))
    assert text.exit_code == 2 and "lan-overlap" in text.stdout and "CRITICAL" in text.stdout


def test_lint_warnings_only_exit_1(tmp_path: Path) -> None:
    data = mesh(2)
    data["links"] = [
        {
            "peers": ["ix-r1", "ix-r2"],
            "via": [{"family": "ipv6", "cost": 10}, {"family": "ipv4", "cost": 5}],
        }
    ]
    result = nmops("peers", "lint", "--config", str(_config(tmp_path, data)), "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert {f["code"] for f in doc["findings"]} == {"backup-cost"}
    assert doc["status"] == "warning"


def test_lint_a_router_that_cannot_be_rendered_is_unknown(tmp_path: Path) -> None:
    data = {
        "netmeister": {"group": "acme"},
        "routers": {"ix-a": {"ddns": {"ipv4": "GigaEthernet0.1"}}},
    }
    result = nmops("peers", "lint", "--config", str(_config(tmp_path, data)), "--json")
    assert result.exit_code == 3
    assert "needs wan and lan" in json.loads(result.stdout)["unread"]["ix-a"]


def test_unknown_router_is_a_config_error() -> None:
    result = nmops("peers", "lint", "ix-nowhere", "--config", str(SEED_CONFIG))
    assert result.exit_code == 3 and "no router named 'ix-nowhere'" in result.stderr
    result = nmops("peers", "render", "ix-nowhere", "--config", str(SEED_CONFIG))
    assert result.exit_code == 3


def test_a_site_template_directory_from_the_settings(tmp_path: Path) -> None:
    data = mesh(2)
    config = _config(tmp_path, data)
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "dns.j2").write_text("ntp server 192.0.2.123\n")
    config.write_text("inventory: inventory.yaml\npeers: {templates: tpl}\n")
    result = nmops("peers", "render", "ix-r1", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "ntp server 192.0.2.123" in result.stdout
