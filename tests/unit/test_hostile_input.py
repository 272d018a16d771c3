"""No input crashes nmops: hostile YAML, names too long for DNS, secrets that do not resolve,
secret-looking values under the wrong key, router text that looks like markup, resolvers that
do not answer. Each ends in a located message (or a finding), never a traceback.

The YAML cases run under both loaders nmops may use: libyaml's (when installed) and PyYAML's
pure-Python one, whose messages differ and whose errors quote the file.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest
import yaml
from rich.console import Console

from nmops.check import CheckReport, RouterReport
from nmops.config import yamlsrc
from nmops.config.load import load_config, load_inventory
from nmops.config.secrets import SecretRef
from nmops.diagnose import Finding, PeerView
from nmops.dns.addresses import Server
from nmops.dns.classify import NameResult, ServerResult
from nmops.dns.discover import explain, make_resolver, zone_servers
from nmops.errors import ConfigError, DnsError, SecretError
from nmops.ix.observed import RouterFacts
from nmops.ix.parsers import NmStatus
from nmops.report.check_text import check_table, plain, router_table
from nmops.status import Status

LOADERS = [yaml.SafeLoader, *([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])]
# Not a timing benchmark: "a second or two" on a slow machine, not minutes or a hang.
SECONDS = 2.0
ROUTER = "routers:\n  r1: {ddns: {ipv4: GigaEthernet0.1}}\n"
LOCATED = re.compile(r"^inventory\.yaml(:\d+)?: ")


@pytest.fixture(params=LOADERS, ids=lambda loader: loader.__name__)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(yamlsrc, "_LOADER", request.param)
    return request.param


def problems_of(tmp_path: Path, inventory: str | bytes) -> list[str]:
    """Load ``inventory`` (text or bytes) through load_config; the problems it reports."""
    inv = tmp_path / "inventory.yaml"
    if isinstance(inventory, bytes):
        inv.write_bytes(inventory)
    else:
        inv.write_text(inventory, encoding="utf-8")
    settings = tmp_path / "nmops.yaml"
    settings.write_text("inventory: inventory.yaml\n", encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(settings)
    assert time.monotonic() - started < SECONDS
    for problem in info.value.problems:
        assert "\n" not in problem, problem
    return info.value.problems


def bomb(levels: int = 9) -> str:
    """The "billion laughs": ``levels`` lines of 9 aliases each, 9**levels strings in all."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]")
    return "netmeister: {group: fetburner}\n" + "\n".join(lines) + "\n" + ROUTER


# --- YAML -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (bomb(), ["inventory.yaml:2: YAML aliases and anchors are not supported"]),
        ("a: &x [*x]\n", ["inventory.yaml:1: YAML aliases and anchors are not supported"]),
        ("a: &x {b: *x}\n", ["inventory.yaml:1: YAML aliases and anchors are not supported"]),
        # An alias to nothing: refused as an alias, not reported as a composer error.
        ("site: *nowhere\n", ["inventory.yaml:1: YAML aliases and anchors are not supported"]),
        # An anchor nobody refers to is refused too: anchors only exist to be aliased.
        ("site: &unused tokyo\n", ["inventory.yaml:1: YAML aliases and anchors are not supported"]),
        (
            "a: !!python/name:os.system\n",
            ["inventory.yaml:1: a: YAML tag !!python/name:os.system is not supported"],
        ),
        (
            'a: !!python/object/apply:os.system ["id"]\n',
            ["inventory.yaml:1: a: YAML tag !!python/object/apply:os.system is not supported"],
        ),
        (
            "a: !!python/object/new:subprocess.Popen {args: [id]}\n",
            ["inventory.yaml:1: a: YAML tag !!python/object/new:subprocess.Popen is not supported"],
        ),
        ("a: [!foo x]\n", ["inventory.yaml:1: a.0: YAML tag !foo is not supported"]),
        ("a: !!binary aGk=\n", ["inventory.yaml:1: a: YAML tag !!binary is not supported"]),
        ("a: !vault |\n  $ANSIBLE\n", ["inventory.yaml:1: a: YAML tag !vault is not supported"]),
        (
            "a: !<tag:example.com,2000:x> v\n",
            ["inventory.yaml:1: a: YAML tag tag:example.com,2000:x is not supported"],
        ),
        # The plain types may be spelled out.
        (
            "netmeister: !!map {group: !!str fetburner}\nrouters: !!str x\n",
            ["inventory.yaml:2: routers: Input should be a valid dictionary"],
        ),
        (
            "".join("  " * i + f"k{i}:\n" for i in range(60)),
            ["inventory.yaml:51: nesting deeper than 50 levels"],
        ),
        (
            "a: " + "[" * 51 + "]" * 51 + "\n",
            ["inventory.yaml:1: nesting deeper than 50 levels"],
        ),
        (
            "port: " + "1" * 5000 + "\n",
            ["inventory.yaml:1: port: not a valid YAML int (quote it if it is text)"],
        ),
        (
            "a: [2001-13-45]\n",
            ["inventory.yaml:1: a.0: not a valid YAML timestamp (quote it if it is text)"],
        ),
        (
            "a: !!float hunter2\n",
            ["inventory.yaml:1: a: not a valid YAML float (quote it if it is text)"],
        ),
        (
            "a: 1\n---\nb: 2\n",
            ["inventory.yaml:2: invalid YAML: one document per file, not several"],
        ),
        (
            "a: 1\nb: caf\x1b[31m\n",
            [
                "inventory.yaml:2: invalid YAML: control character U+001B (only tab, line "
                "breaks and printable text)"
            ],
        ),
        (
            "? [a, b]\n: hunter2\nc: d\n",
            ["inventory.yaml:1: keys must be text, not list"],
        ),
        (
            "login:\n  password: {env: X}\n  password: hunter2\n",
            ["inventory.yaml:3: login.password: duplicate key"],
        ),
    ],
    ids=lambda v: v[:24] if isinstance(v, str) else None,
)
def test_hostile_yaml_is_one_located_problem(
    loader: object, tmp_path: Path, text: str, expected: list[str]
) -> None:
    assert problems_of(tmp_path, text) == expected


def test_alias_bomb_costs_nothing(loader: object, tmp_path: Path) -> None:
    """Refused before anything is expanded: memory stays at the size of the file."""
    tracemalloc.start()
    try:
        problems_of(tmp_path, bomb())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # expanded, it would be gigabytes


def test_deep_nesting_of_100k_levels(loader: object, tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    # libyaml stops at its own limit first (1,000 levels, scanning ahead); PyYAML's parser
    # streams, and nmops stops it at 50.
    assert problem in (
        "inventory.yaml:1: nesting deeper than 50 levels",
        "inventory.yaml:1: invalid YAML: exceeded maximum nesting depth",
    )


def test_not_utf8(tmp_path: Path) -> None:
    text = b"netmeister: {group: fetburner}\nrouters:\n  r1: {site: caf\xe9}\n"
    assert problems_of(tmp_path, text) == ["inventory.yaml:3: not UTF-8 text (byte 0xe9)"]


def test_huge_file_is_refused_unread(tmp_path: Path) -> None:
    huge = b"a: 1\n" + b"#" * yamlsrc.MAX_BYTES
    assert problems_of(tmp_path, huge) == ["inventory.yaml: larger than 8 MiB; not a config file"]


def test_too_many_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsrc, "MAX_VALUES", 100)
    text = "a:\n" + "".join(f"  - {i}\n" for i in range(200))
    assert problems_of(tmp_path, text) == [
        "inventory.yaml:99: more than 100 values; not a config file"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "password: !hunter2!x y\n",  # PyYAML: found undefined tag handle '!hunter2!'
        'password: "hunter2\\q"\n',  # found unknown escape character 'q'
        "password: hunter2: more\n",
        'password: "hunter2\n',
        "password: [hunter2\n",
        "a:\n\t- hunter2\n",
        "password: |x\n  hunter2\n",
        "password: !<hunter2%zz> x\n",
        "password: !<hunter2%ff> x\n",  # PyYAML: the decoder's own message
        "- hunter2\nkey: hunter2\n",
        "{hunter2: x\n",
    ],
)
def test_yaml_syntax_errors_never_quote_the_file(loader: object, tmp_path: Path, text: str) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("inventory.yaml:"), problem
    assert ": invalid YAML: " in problem
    assert "hunter2" not in problem


@pytest.mark.parametrize(
    ("problem", "shown"),
    [
        ("found undefined tag handle '!hunter2!'", "found undefined tag handle '...'"),
        (
            "found character '\\t' that cannot start any token",
            "found character '\\t' that cannot start any token",
        ),
        (
            "expected <block end>, but found '<scalar>'",
            "expected <block end>, but found '<scalar>'",
        ),
        ("found unknown escape character 'q'", "found unknown escape character 'q'"),
        ("two\nlines", "two"),
        (None, "not valid YAML"),
    ],
)
def test_safe_problem(problem: str | None, shown: str) -> None:
    assert yamlsrc.safe_problem(problem) == shown


def test_builder_keeps_data_and_lines_of_a_plain_file(loader: object, tmp_path: Path) -> None:
    """The event builder gives what compose + build gave: values, types and every line."""
    path = tmp_path / "x.yaml"
    path.write_text(
        "a: 1\nb:\n  - x\n  - {c: true, d: null, e: 1.5, f: '01'}\nday: 2001-01-02\n<<: m\n",
        encoding="utf-8",
    )
    src = yamlsrc.load_located(path)
    assert src.data == {
        "a": 1,
        "b": ["x", {"c": True, "d": None, "e": 1.5, "f": "01"}],
        "day": datetime.date(2001, 1, 2),
        "<<": "m",  # a merge key is plain text: an unknown key to the model
    }
    assert src.lines == {
        (): 1,
        ("a",): 1,
        ("b",): 2,
        ("b", 0): 3,
        ("b", 1): 4,
        ("b", 1, "c"): 4,
        ("b", 1, "d"): 4,
        ("b", 1, "e"): 4,
        ("b", 1, "f"): 4,
        ("day",): 5,
        ("<<",): 6,
    }


# --- names too long for DNS -------------------------------------------------------------------


def test_fqdn_limit_is_the_whole_name(tmp_path: Path) -> None:
    zone = ".".join(["z" * 63] * 3) + ".jp"  # 194 characters, every label legal
    inv = (
        f"netmeister: {{group: fetburner, zone: {zone}}}\n"
        "routers:\n"
        f"  r1: {{ddns: {{ipv4: GigaEthernet0.1}}, ddns_hostname: {'h' * 48}}}\n"
        f"  r2: {{ddns: {{ipv4: GigaEthernet0.1}}, ddns_hostname: {'h' * 49}}}\n"
        f"  {'r' * 46}: {{ddns: {{ipv6: GigaEthernet2.0}}}}\n"
    )
    # 48 + 1 + 9 + 1 + 194 = 253: the limit itself is fine.
    assert problems_of(tmp_path, inv) == [
        "inventory.yaml:4: routers.r2.ddns_hostname: the ipv4 FQDN would be 254 characters "
        "(max 253): shorten the host label, group or zone",
        f"inventory.yaml:5: routers.{'r' * 46}: the ipv6 FQDN would be 254 characters "
        "(max 253): shorten the host label, group or zone",
    ]


# --- secrets ----------------------------------------------------------------------------------


def test_secret_check_names_the_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NMOPS_TEST_UNSET", raising=False)
    monkeypatch.setenv("NMOPS_TEST_EMPTY", "")
    monkeypatch.setenv("NMOPS_TEST_SET", "hunter2")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "pw").write_text("hunter2\n", encoding="utf-8")
    cases = {
        SecretRef(env="NMOPS_TEST_UNSET"): "environment variable is not set",
        SecretRef(env="NMOPS_TEST_EMPTY"): "environment variable is empty",
        SecretRef(file=tmp_path / "nope"): "cannot read: No such file or directory",
        SecretRef(file=tmp_path): "cannot read: Is a directory",
        SecretRef(file=tmp_path / "empty"): "the file is empty",
    }
    for ref, why in cases.items():
        with pytest.raises(SecretError) as info:
            ref.check()
        assert str(info.value) == f"secret {ref.describe()}: {why}"
    SecretRef(env="NMOPS_TEST_SET").check()
    SecretRef(file=tmp_path / "pw").check()
    assert SecretRef(file=tmp_path / "pw").reveal() == "hunter2"  # reveal is unchanged


def test_a_fifo_or_device_is_no_secret_and_hangs_nothing(tmp_path: Path) -> None:
    """A FIFO with no writer blocks any read, /dev/zero never ends: check and reveal must
    both refuse at once."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = threading.Event()
    errors: list[str] = []

    def check() -> None:
        for path in (fifo, Path("/dev/zero")):
            for call in (SecretRef(file=path).check, SecretRef(file=path).reveal):
                try:
                    call()
                except SecretError as exc:
                    errors.append(str(exc))
        done.set()

    threading.Thread(target=check, daemon=True).start()
    assert done.wait(SECONDS)
    assert len(errors) == 4
    assert all("not a regular file" in e for e in errors), errors


def test_unreadable_secret_file() -> None:
    """A file the user running nmops may not read. Root (CI) reads any file, so there the
    check runs in a child process without root's power to override file permissions."""
    home = Path(tempfile.mkdtemp(prefix="nmops-secret-"))
    try:
        home.chmod(0o755)
        secret = home / "pw"
        secret.write_text("hunter2\n", encoding="utf-8")
        secret.chmod(0)
        code = (
            "import sys\n"
            "from pathlib import Path\n"
            "from nmops.config.secrets import SecretRef\n"
            "from nmops.errors import SecretError\n"
            "try:\n"
            f"    SecretRef(file=Path({str(secret)!r})).check()\n"
            "except SecretError as exc:\n"
            "    print(exc)\n"
            "    sys.exit(0)\n"
            "sys.exit(1)\n"
        )

        command = [sys.executable, "-c", code]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            assert setpriv, "setpriv (util-linux) is needed to drop root's file override"
            command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *command]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd="/",
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            timeout=30,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "cannot read: Permission denied" in done.stdout
        assert "hunter2" not in done.stdout + done.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_only_secrets_the_run_uses_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No management path: never logged in to, so its login may be anything. No NetMeister
    password: nothing to check."""
    monkeypatch.delenv("NMOPS_TEST_UNSET", raising=False)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "netmeister: {group: fetburner}\n"
        "defaults: {login: {username: u, password: {env: NMOPS_TEST_UNSET}}}\n"
        "routers:\n"
        "  r1: {ddns: {ipv4: GigaEthernet0.1}}\n",
        encoding="utf-8",
    )
    assert load_inventory(inv).routers["r1"].login is not None
    inv.write_text(
        inv.read_text(encoding="utf-8")
        + "  r2: {ddns: {ipv4: Tunnel1.0}, management: [{host: h}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_inventory(inv)
    assert info.value.problems == [
        "inventory.yaml:2: defaults.login.password: secret env:NMOPS_TEST_UNSET: "
        "environment variable is not set"
    ]


# --- nothing secret-looking is echoed ---------------------------------------------------------


NM = "netmeister: {group: fetburner}\n"
R1 = NM + "routers:\n  r1:\n    ddns: {ipv4: GigaEthernet0.1}\n"


@pytest.mark.parametrize(
    "inventory",
    [
        R1 + "    login: LEAK\n",
        R1 + "    login: {username: admin, password: LEAK}\n",
        R1 + '    login: {username: "LEAK ", password: {env: X}}\n',
        R1 + "    login: {username: [LEAK], password: {env: X}}\n",
        R1 + "    login: {username: admin, password: {env: [LEAK]}}\n",
        R1 + "    psk: LEAK\n",
        R1 + "    management: [LEAK]\n",
        R1 + "    lan: LEAK\n",
        R1 + "    expect: LEAK\n",
        NM + "routers:\n  r1: {ddns: LEAK}\n",
        NM + "routers:\n  r1: {ddns: {ipv4: GigaEthernet0.1, psk: LEAK}}\n",
        NM + "routers:\n  r1: LEAK\n",
        NM + "routers: LEAK\n",
        "netmeister: LEAK\n" + ROUTER,
        "netmeister: {group: fetburner, password: LEAK}\n" + ROUTER,
        "netmeister: {group: fetburner, token: LEAK}\n" + ROUTER,
        "netmeister: {group: fetburner, secret: LEAK, key: LEAK, community: LEAK}\n" + ROUTER,
        NM + "defaults: {login: LEAK}\n" + ROUTER,
        NM + "defaults: LEAK\n" + ROUTER,
        NM + "LEAK: LEAK\n" + ROUTER,
    ],
)
def test_values_under_unknown_or_secret_keys_are_never_echoed(
    tmp_path: Path, inventory: str
) -> None:
    for literal, value in (
        ("'hunter2-xyz'", "hunter2-xyz"),
        ("8675309", "8675309"),
        ("'hunter2 with spaces'", "hunter2 with spaces"),
    ):
        problems = problems_of(tmp_path, inventory.replace("LEAK", literal))
        assert problems, inventory
        for problem in problems:
            assert LOCATED.match(problem), problem
            # The key may be the secret's own name (LEAK: LEAK); never the value after it.
            assert value not in problem.partition(": ")[2].partition(": ")[2], problem


@pytest.mark.parametrize(
    ("inventory", "shown"),
    [
        ("r1: {ddns: {ipv4: Gi0.1}}", "'Gi0.1' is not an IX interface name"),
        ("r1: {ddns: {ipv4: Tunnel1.0}, site: 7}", "(got 7)"),
        ("r1: {ddns: {ipv4: Tunnel1.0}, management: [{host: h, port: ssh}]}", "(got 'ssh')"),
        ("r1: {ddns: {ipv4: Tunnel1.0}, lan: {interface: Tunnel1.0, address: x}}", "(got 'x')"),
        ("r1: {ddns: {ipv4: Tunnel1.0}, expect: {ipv6: [10.0.0.1]}}", "(got '10.0.0.1')"),
    ],
)
def test_harmless_values_are_still_echoed(tmp_path: Path, inventory: str, shown: str) -> None:
    (problem,) = problems_of(
        tmp_path, f"netmeister: {{group: fetburner}}\nrouters:\n  {inventory}\n"
    )
    assert problem.endswith(shown), problem


# --- router and DNS text in the table ---------------------------------------------------------

HOSTILE = ["[/]", "[red]x", "[bold]", "[link=file:///etc/passwd]", ":thumbs_up:", "\x1b[31m"]


def hostile_report() -> CheckReport:
    text = " ".join(HOSTILE)
    addr = ipaddress.ip_address("203.0.113.10")
    servers = (
        ServerResult(f"[/]{text}", Status.OK, (addr,), 60),
        ServerResult(f"[red]{text}", Status.TIMEOUT, detail=text),
    )
    name = NameResult(text, "ipv4", "A", Status.OK, True, (addr,), 60, servers, detail=text)
    facts = RouterFacts(
        name=text,
        reachable=True,
        path=text,
        addresses={"ipv4": (addr,)},
        nm=NmStatus(text, 20000, None, None, None),
        saved=True,
    )
    peer = PeerView(text, None, addr, addr, "established", None)
    finding = Finding(Status.UNSAVED, text)
    return CheckReport((RouterReport(text, (name,), facts, (peer,), (finding,)),))


def rendered(*renderables: object) -> str:
    console = Console(record=True, width=2000, file=io.StringIO(), color_system="truecolor")
    for r in renderables:
        console.print(r)
    return console.export_text(styles=False)


def test_router_text_in_tables_is_shown_as_it_is() -> None:
    report = hostile_report()
    out = rendered(check_table(report), router_table(report))
    for text in HOSTILE[:-1]:
        # Shown, not read as markup (which eats it or raises MarkupError) or as an emoji code.
        assert out.count(text) >= 8, (text, out)
    assert "\x1b" not in out
    assert out.count("\\x1b[31m") >= 8


def test_plain_escapes_control_characters_but_keeps_lines() -> None:
    assert plain("a\nb").plain == "a\nb"
    assert plain("a\x1b[2Jb\rc\x00\u202e").plain == "a\\x1b[2Jb\\rc\\x00\\u202e"
    assert plain("[/] [red]").plain == "[/] [red]"


# --- resolvers that do not answer -------------------------------------------------------------


@contextmanager
def responder(policy: str) -> Iterator[Server]:
    """A DNS server on 127.0.0.1 (a real socket) that answers every query one way."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)  # to notice the end of the test
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            if policy == "silent":
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            if policy == "refused":
                reply.set_rcode(dns.rcode.REFUSED)
            elif policy == "servfail":
                reply.set_rcode(dns.rcode.SERVFAIL)
            elif policy == "zone-without-ns" and question.to_text() == "nmddns.jp. IN SOA":
                soa = "ns1.nmddns.jp. hostmaster.nmddns.jp. 1 3600 600 86400 60"
                reply.answer.append(dns.rrset.from_text("nmddns.jp.", 60, "IN", "SOA", soa))
            # "empty" (and anything unanswered above): NOERROR with no records.
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Server("127.0.0.1", sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(1)
        sock.close()


def dead_server() -> Server:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return Server("127.0.0.1", s.getsockname()[1])


def discovery_error(server: Server) -> str:
    resolver = make_resolver([server], timeout=0.1)
    with pytest.raises(DnsError) as info:
        asyncio.run(zone_servers("fetburner.nmddns.jp", resolver, 53))
    message = str(info.value)
    for dnspython in ("There is no SOA", "The DNS operation", "All nameservers", "lifetime"):
        assert dnspython not in message
    assert message.startswith("cannot find the authoritative servers for fetburner.nmddns.jp: ")
    assert message.endswith("set dns.servers or dns.bootstrap")
    return message


def test_resolver_that_never_answers() -> None:
    with responder("silent") as server:
        message = discovery_error(server)
    start = "no resolver answered the SOA query for fetburner.nmddns.jp within "
    assert re.search(re.escape(start) + rf"\d+\.\d s \(asked {re.escape(str(server))}\)", message)


def test_resolver_on_a_dead_port() -> None:
    server = dead_server()
    message = discovery_error(server)
    # A timeout, or (where ICMP reaches the socket) a refused connection: either way, words.
    assert f"(asked {server}" in message


@pytest.mark.parametrize(("policy", "rcode"), [("refused", "REFUSED"), ("servfail", "SERVFAIL")])
def test_resolver_that_refuses(policy: str, rcode: str) -> None:
    with responder(policy) as server:
        message = discovery_error(server)
    assert (
        f"no resolver could answer the SOA query for fetburner.nmddns.jp (asked {server}: {rcode})"
        in message
    )


def test_resolver_that_knows_no_zone() -> None:
    with responder("empty") as server:
        message = discovery_error(server)
    assert f"the resolvers (asked {server}) found no zone at all for fetburner.nmddns.jp" in message
    assert "not even the root: DNS is filtered or broken here" in message


def test_resolver_with_a_zone_but_no_ns() -> None:
    with responder("zone-without-ns") as server:
        message = discovery_error(server)
    assert "the resolvers know no NS records for nmddns.jp: check netmeister.zone" in message


def test_explain_nxdomain_and_no_configuration() -> None:
    resolver = make_resolver([Server("192.0.2.53", 53)], timeout=1)
    nx = dns.resolver.NXDOMAIN(qnames=[dns.name.from_text("nmddns.jp")])
    assert explain(nx, "NS", "nmddns.jp", resolver) == (
        "the resolvers say nmddns.jp does not exist (NXDOMAIN): check netmeister.zone, or "
        "set dns.servers or dns.bootstrap"
    )
    none = dns.resolver.NoResolverConfiguration()
    assert explain(none, "SOA", "x.nmddns.jp", resolver) == (
        "no resolver is configured to send the SOA query for x.nmddns.jp to: "
        "set dns.servers or dns.bootstrap"
    )


@pytest.mark.parametrize("host", ["evil.example,10.0.0.5", "a b", "[::1]", "host;reload", "-x"])
def test_management_host_is_an_address_or_a_name(tmp_path: Path, host: str) -> None:
    """It becomes a known_hosts pattern: a comma would pin the key for a second host."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "netmeister: {group: fetburner}\n"
        "routers:\n"
        "  r1:\n"
        "    login: {username: u, password: {env: HOME}}\n"
        f"    management: [{{host: '{host}'}}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_inventory(inv)
    (problem,) = info.value.problems
    assert "routers.r1.management.0.host" in problem
    assert "is not an IP address or a host name" in problem
