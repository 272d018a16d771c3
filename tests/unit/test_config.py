"""Config loading: every problem collected, each with file, line and key; secrets never shown.

Each file in ``tests/data/config/bad/`` is one failure mode; its ``# expect:`` lines are the
exact problems ``load_config`` must report, in order (``{dir}`` stands for that folder).
``nmops-*.yaml`` files are loaded as ``nmops.yaml``; ``inventory-*.yaml`` files are loaded as
the inventory a generated ``nmops.yaml`` names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nmops.config.load import DEFAULT_CONFIG, config_path, load_config, load_inventory
from nmops.config.secrets import SecretRef
from nmops.errors import ConfigError, SecretError

DATA = Path(__file__).resolve().parent.parent / "data" / "config"
BAD = DATA / "bad"
GOOD = DATA / "good"
# Literal secrets written into bad files; no message may ever show them.
LITERAL_SECRETS = ("hunter2", "8675309")

BAD_FILES = sorted(BAD.glob("*.yaml"))


def expected_problems(path: Path) -> list[str]:
    return [
        line.removeprefix("# expect: ").replace("{dir}", str(BAD))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("# expect: ")
    ]


def load_bad(path: Path, tmp_path: Path) -> ConfigError:
    if path.name.startswith("nmops-"):
        settings = path
    else:
        settings = tmp_path / "nmops.yaml"
        settings.write_text(f"inventory: {path}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(settings)
    return info.value


def test_every_failure_mode_has_a_file() -> None:
    # Guards the glob: a renamed folder must not turn this module into zero tests.
    assert len(BAD_FILES) >= 25
    for path in BAD_FILES:
        assert expected_problems(path), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_config_reports_exact_location(path: Path, tmp_path: Path) -> None:
    error = load_bad(path, tmp_path)
    for problem in error.problems:
        # One problem, one line: a raw newline from the YAML must not split (or forge) a line.
        assert "\n" not in problem and "\r" not in problem, problem
        for secret in LITERAL_SECRETS:
            assert secret not in problem
    assert error.problems == expected_problems(path)
    assert str(error) == "\n".join(error.problems)


def test_problems_of_both_files_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(DATA / "bad-pair" / "nmops.yaml")
    assert info.value.problems == [
        "nmops.yaml:4: dns.timout: unknown key",
        "inventory.yaml:4: routers.ix2215-tokyo.ddns.ipv6: "
        "'GigaEthernet2.O' is not an IX interface name",
    ]


def test_missing_settings_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert info.value.problems == [f"{missing}: cannot read: No such file or directory"]


def test_good_config_values() -> None:
    config = load_config(GOOD / "nmops.yaml")
    dns = config.settings.dns
    assert dns.servers == ["127.0.0.1:53", "127.0.0.2:5353", "[::1]:5300", "[::1]:53"]
    assert (dns.timeout, dns.retries, dns.concurrency, dns.rate) == (1.5, 1, 4, 0.0)
    assert dns.allow_documentation is True
    nm = config.inventory.netmeister
    assert (nm.group, nm.zone) == ("fetburner", "nmddns.jp")  # lower case, no trailing dot
    assert [r.name for r in config.routers()] == ["ix2215-tokyo", "ix2215-kagawa"]
    tokyo, kagawa = config.routers()
    # defaults merge per key: kagawa drops ipv4 and keeps the inherited ipv6.
    assert tokyo.ddns.families() == ["ipv4", "ipv6"]
    assert (kagawa.ddns.ipv4, kagawa.ddns.ipv6) == (None, "GigaEthernet2.0")
    assert kagawa.ddns.families() == ["ipv6"]
    assert nm.fqdn(tokyo.host_label, "ipv4") == "ix2215-tokyo.fetburner.nmddns.jp"
    assert nm.fqdn(kagawa.host_label, "ipv6") == "kagawa-gw.fetburner.v6.nmddns.jp"
    assert {str(a) for a in tokyo.expected("ipv6")} == {"2001:db8:100::1"}
    assert kagawa.expected("ipv4") == frozenset()
    assert kagawa.management[0].port == 2222
    assert tokyo.login is not None
    # A file reference is relative to the file that holds it.
    assert tokyo.login.password.file == GOOD / "secrets" / "tokyo-password"
    assert tokyo.login.password.reveal() == "hunter2-file-secret"
    assert nm.password is not None
    assert nm.password.reveal() == "hunter2-netmeister-secret"


def test_env_secret_loads_and_reveals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMOPS_TEST_NM_PASSWORD", "hunter2-env-secret")
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "netmeister: {group: fetburner, password: {env: NMOPS_TEST_NM_PASSWORD}}\n"
        "routers: {r1: {ddns: {ipv4: GigaEthernet0.1}}}\n",
        encoding="utf-8",
    )
    nm = load_inventory(inv).netmeister
    assert nm.password == SecretRef(env="NMOPS_TEST_NM_PASSWORD")
    assert nm.password.reveal() == "hunter2-env-secret"
    assert "hunter2" not in repr(nm)


def test_secrets_never_in_repr_or_str() -> None:
    config = load_config(GOOD / "nmops.yaml")
    for text in (repr(config), str(config), repr(config.inventory), str(config.inventory)):
        assert "hunter2" not in text
    assert f"SecretRef(file:{GOOD / 'secrets' / 'netmeister-password'})" in repr(config)
    assert "hunter2" not in repr(config.inventory.model_dump())
    assert "hunter2" not in config.inventory.model_dump_json()


def test_secret_ref_errors_name_the_place_not_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NMOPS_TEST_UNSET", raising=False)
    with pytest.raises(SecretError, match=r"^secret env:NMOPS_TEST_UNSET: environment variable"):
        SecretRef(env="NMOPS_TEST_UNSET").reveal()
    missing = tmp_path / "pw"
    with pytest.raises(SecretError, match="cannot read") as info:
        SecretRef(file=missing).reveal()
    assert str(missing) in str(info.value)
    (tmp_path / "pw").write_text("hunter2\r\n", encoding="utf-8")
    ref = SecretRef(file=missing)
    assert ref.reveal() == "hunter2"
    assert "hunter2" not in repr(ref) and "hunter2" not in str(ref)
    with pytest.raises(ValueError):
        SecretRef()
    with pytest.raises(ValueError):
        SecretRef(env="A", file=missing)


@pytest.mark.parametrize(
    "password",
    [
        "{env: ''}",
        "{env: NMOPS_X, file: hunter2}",
        "{value: hunter2}",
        "[hunter2]",
        "{file: [hunter2]}",
    ],
)
def test_bad_secret_references_never_echo(tmp_path: Path, password: str) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "netmeister:\n"
        "  group: fetburner\n"
        f"  password: {password}\n"
        "routers:\n"
        "  r1: {ddns: {ipv4: GigaEthernet0.1}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_inventory(inv)
    (problem,) = info.value.problems
    assert problem.startswith("inventory.yaml:3: netmeister.password: ")
    assert "hunter2" not in problem


def test_unknown_router_selected() -> None:
    config = load_config(GOOD / "nmops.yaml")
    with pytest.raises(ConfigError) as info:
        config.routers(["ix2215-osaka", "ix2215-tokyo", "nope"])
    assert info.value.problems == [
        "no router named 'ix2215-osaka' in the inventory",
        "no router named 'nope' in the inventory",
    ]


def test_selected_routers_in_inventory_order() -> None:
    config = load_config(GOOD / "nmops.yaml")
    assert [r.name for r in config.routers(["ix2215-tokyo"])] == ["ix2215-tokyo"]
    # Config.routers promises inventory order, whatever order --router gave.
    picked = config.routers(["ix2215-kagawa", "ix2215-tokyo"])
    assert [r.name for r in picked] == ["ix2215-tokyo", "ix2215-kagawa"]


def test_router_name_is_its_key(tmp_path: Path) -> None:
    """``name`` in defaults or a router body must not rename routers (or merge two into one)."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "netmeister: {group: fetburner}\n"
        "defaults: {name: shared}\n"
        "routers:\n"
        "  ix2215-tokyo: {ddns: {ipv4: GigaEthernet0.1}}\n"
        "  ix2215-kagawa: {name: other, ddns: {ipv4: GigaEthernet0.1}}\n",
        encoding="utf-8",
    )
    try:
        inventory = load_inventory(inv)
    except ConfigError as exc:  # rejecting the key is as good as ignoring it
        assert all(".name" in p for p in exc.problems), exc.problems
        return
    assert {key: r.name for key, r in inventory.routers.items()} == {
        "ix2215-tokyo": "ix2215-tokyo",
        "ix2215-kagawa": "ix2215-kagawa",
    }


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NMOPS_CONFIG", raising=False)
    assert config_path(None) == DEFAULT_CONFIG
    monkeypatch.setenv("NMOPS_CONFIG", "/etc/nmops/nmops.yaml")
    assert config_path(None) == Path("/etc/nmops/nmops.yaml")
    assert config_path("here.yaml") == Path("here.yaml")


def test_example_config_in_repo_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example names its NetMeister password by a variable that `check` does not need.
    monkeypatch.delenv("NMOPS_NETMEISTER_PASSWORD", raising=False)
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "config" / "nmops.yaml")
    assert [r.name for r in config.routers()] == ["ix2215-tokyo", "ix2215-kagawa"]
    assert config.settings.dns.servers == []
    assert config.inventory.netmeister.password == SecretRef(env="NMOPS_NETMEISTER_PASSWORD")


@pytest.mark.parametrize(
    ("default", "override", "expected"),
    [
        ("{env: NMOPS_TEST_PW}", "{file: secrets/r2-password}", "file"),
        ("{file: secrets/shared-password}", "{env: NMOPS_TEST_R2_PW}", "env"),
    ],
)
def test_router_secret_reference_replaces_the_default_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default: str, override: str, expected: str
) -> None:
    """A router's ``{file: ...}`` replaces the default ``{env: ...}`` (and the other way
    round): merged key by key, the two would make ``{env, file}``, which is refused."""
    # Both references must resolve: secrets a run will use are checked at load time.
    monkeypatch.setenv("NMOPS_TEST_PW", "from-the-env")
    monkeypatch.setenv("NMOPS_TEST_R2_PW", "from-the-env")
    (tmp_path / "secrets").mkdir()
    for name in ("r2-password", "shared-password"):
        (tmp_path / "secrets" / name).write_text("from-the-file\n", encoding="utf-8")
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "netmeister: {group: fetburner}\n"
        "defaults:\n"
        f"  login: {{username: nmops, password: {default}}}\n"
        "  management: [{host: 192.0.2.1}]\n"
        "routers:\n"
        "  r1: {ddns: {ipv4: GigaEthernet0.1}}\n"
        "  r2:\n"
        "    ddns: {ipv4: GigaEthernet0.1}\n"
        f"    login: {{password: {override}}}\n",
        encoding="utf-8",
    )
    inventory = load_inventory(inv)
    r1, r2 = inventory.routers["r1"], inventory.routers["r2"]
    assert r1.login is not None and r2.login is not None
    assert r2.login.username == "nmops"  # the rest of login is still inherited
    if expected == "file":
        assert r1.login.password == SecretRef(env="NMOPS_TEST_PW")
        assert r2.login.password == SecretRef(file=tmp_path / "secrets" / "r2-password")
        assert r2.login.password.reveal() == "from-the-file"
    else:
        assert r1.login.password == SecretRef(file=tmp_path / "secrets" / "shared-password")
        assert r2.login.password == SecretRef(env="NMOPS_TEST_R2_PW")


def test_router_names_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    """R4 and r4 are one name to a person, to ``--router`` habits and to a case-insensitive
    file system (``ssh.log_dir/R4.log``): refused even when their DDNS labels differ."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "netmeister: {group: fetburner}\n"
        "routers:\n"
        "  R4: {ddns_hostname: r4-old, ddns: {ipv4: GigaEthernet0.1}}\n"
        "  r4: {ddns: {ipv4: GigaEthernet0.1}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_inventory(inv)
    (problem,) = info.value.problems
    assert problem.startswith("inventory.yaml:4: routers.r4: "), problem
    assert "R4" in problem
