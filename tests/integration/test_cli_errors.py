"""``nmops`` as cron or a monitoring agent runs it, fed hostile input: every failure is one
located line (or one line saying what failed), exit 3, no traceback, within a second or two
and in bounded memory. Then the same for failures nobody foresaw, Ctrl-C and bad arguments.

The config cases are the hostile files of ``tests/data/config/bad/``, with the problems their
``# expect:`` lines name, run through the installed ``nmops`` console script in a child whose
address space is limited to 1 GB (the alias bomb alone would take 1.4 GB and more).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.rcode
import pytest
from click.testing import CliRunner

import nmops.cli.check
from nmops.cli import main
from nmops.config.yamlsrc import MAX_VALUES
from nmops.errors import ConfigError, DnsError

DATA = Path(__file__).resolve().parent.parent / "data" / "config"
BAD = DATA / "bad"
NMOPS = Path(sys.executable).parent / "nmops"
LIMIT_BYTES = 1 << 30  # RLIMIT_AS of the child
MAX_RSS_MB = 200
# A check that fails on its config must not take longer than Python needs to start nmops.
SECONDS = 2.0

HOSTILE_FILES = [
    "inventory-yaml-alias-bomb.yaml",
    "inventory-yaml-recursive-anchor.yaml",
    "inventory-yaml-merge-key.yaml",
    "inventory-yaml-python-tags.yaml",
    "inventory-yaml-deep.yaml",
    "inventory-yaml-control-character.yaml",
    "inventory-yaml-bad-scalars.yaml",
    "inventory-yaml-two-documents.yaml",
    "inventory-duplicate-secret-key.yaml",
    "inventory-fqdn-too-long.yaml",
    "inventory-secrets-unresolved.yaml",
    "inventory-secret-echo.yaml",
    "nmops-yaml-alias.yaml",
]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


def run_nmops(*args: str, argv0: list[str] | None = None) -> Run:
    """The console script in a child limited to 1 GB; its own peak RSS from wait4."""
    if not NMOPS.exists():
        pytest.fail("the nmops console script is not installed (pip install -e .)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NMOPS_")}
    started = time.monotonic()
    child = subprocess.Popen(
        [*(argv0 or [str(NMOPS)]), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=_limit_memory,
    )
    assert child.stdout is not None and child.stderr is not None
    streams = (child.stdout, child.stderr)
    output: dict[int, bytes] = {}
    readers = [
        threading.Thread(target=lambda i=i, s=s: output.__setitem__(i, s.read()))
        for i, s in enumerate(streams)
    ]
    for reader in readers:
        reader.start()
    watchdog = threading.Timer(60, child.kill)  # a hang fails the test, not the run
    watchdog.start()
    try:
        # wait4, not Popen.wait: the child's own rusage, not the sum of all children so far.
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        watchdog.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    for stream in streams:
        stream.close()
    return Run(
        child.returncode,
        output[0].decode(),
        output[1].decode(),
        time.monotonic() - started,
        usage.ru_maxrss / 1024,  # KiB on Linux
    )


def expected_problems(path: Path) -> list[str]:
    return [
        line.removeprefix("# expect: ").replace("{dir}", str(BAD))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("# expect: ")
    ]


def settings_for(path: Path, tmp_path: Path) -> Path:
    if path.name.startswith("nmops-"):
        return path
    settings = tmp_path / "nmops.yaml"
    settings.write_text(f"inventory: {path}\n", encoding="utf-8")
    return settings


def assert_config_error(run: Run, problems: list[str]) -> None:
    assert run.returncode == 3, run
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    assert run.stderr.splitlines() == ["configuration error", *(f"  {p}" for p in problems)]
    assert run.seconds < SECONDS, run.seconds
    assert run.max_rss_mb < MAX_RSS_MB, run.max_rss_mb


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_hostile_config_is_a_located_error(name: str, tmp_path: Path) -> None:
    path = BAD / name
    run = run_nmops("check", "--config", str(settings_for(path, tmp_path)))
    assert_config_error(run, expected_problems(path))


def test_bigger_alias_bomb_and_deeper_nesting(tmp_path: Path) -> None:
    """Twelve levels of nine (282 billion strings) and 100,000 nested lists: as cheap."""
    lines = ["netmeister: {group: fetburner}", 'l0: &l0 ["lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 12)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    for name, problem in (
        ("bomb.yaml", "bomb.yaml:2: YAML aliases and anchors are not supported"),
        ("deep.yaml", "deep.yaml:1: "),
    ):
        settings = tmp_path / f"nmops-{name}"
        settings.write_text(f"inventory: {name}\n", encoding="utf-8")
        run = run_nmops("check", "--config", str(settings))
        assert run.returncode == 3, run
        assert "Traceback" not in run.stderr
        (line,) = run.stderr.splitlines()[1:]
        assert line.strip().startswith(problem), line
        assert run.seconds < SECONDS and run.max_rss_mb < MAX_RSS_MB, run


def test_file_over_the_value_cap_is_refused_quickly(tmp_path: Path) -> None:
    """Just over the value cap: read to the cap, refused, within a couple of seconds."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text("a:\n" + "  - 1\n" * MAX_VALUES, encoding="utf-8")
    settings = tmp_path / "nmops.yaml"
    settings.write_text("inventory: inventory.yaml\n", encoding="utf-8")
    run = run_nmops("check", "--config", str(settings))
    assert run.returncode == 3, run
    assert run.stderr.splitlines()[1:] == [
        # The mapping, its key and the list count too: the item over the cap is 3 lines up.
        f"  inventory.yaml:{MAX_VALUES - 1}: more than {MAX_VALUES:,} values; not a config file"
    ]
    assert run.seconds < 2 * SECONDS and run.max_rss_mb < MAX_RSS_MB, run


# --- failures nobody foresaw ------------------------------------------------------------------


def good_config() -> str:
    return str(DATA / "good" / "nmops.yaml")


def test_internal_error_is_unknown_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(path: Path) -> None:
        raise ValueError("an unforeseen\nproblem")

    monkeypatch.setattr(nmops.cli.check, "load_config", boom)
    result = CliRunner().invoke(main, ["check", "--config", good_config()])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        "nmops: internal error: ValueError: an unforeseen problem; run with -vv for the traceback\n"
    )


def test_internal_error_traceback_with_vv(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(path: Path) -> None:
        raise ValueError("an unforeseen problem")

    monkeypatch.setattr(nmops.cli.check, "load_config", boom)
    result = CliRunner().invoke(main, ["-vv", "check", "--config", good_config()])
    assert result.exit_code == 3
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert 'raise ValueError("an unforeseen problem")' in result.stderr
    assert (
        result.stderr.splitlines()[-1] == "nmops: internal error: ValueError: an unforeseen problem"
    )


def test_internal_error_in_a_real_process() -> None:
    """Through ``nmops.cli:main`` as the entry point calls it: SystemExit 3, not Python's 1."""
    script = (
        "import sys, nmops.cli, nmops.cli.check\n"
        "def boom(path): raise RuntimeError('deep in the stack')\n"
        "nmops.cli.check.load_config = boom\n"
        "nmops.cli.main()\n"
    )
    run = run_nmops("check", argv0=[sys.executable, "-c", script])
    assert run.returncode == 3, run
    assert run.stderr == (
        "nmops: internal error: RuntimeError: deep in the stack; run with -vv for the traceback\n"
    )


def test_ctrl_c_is_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(path: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(nmops.cli.check, "load_config", interrupted)
    result = CliRunner().invoke(main, ["check", "--config", good_config()])
    assert result.exit_code == 130
    assert result.stderr == "nmops: interrupted\n"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["check", "--bogus"], 3),
        (["check", "--router"], 3),
        (["no-such-command"], 3),
        (["--bogus", "check"], 3),
        (["lab", "up", "--latency", "-1"], 3),
        ([], 3),
        (["--help"], 0),
        (["--version"], 0),
        (["check", "--help"], 0),
    ],
)
def test_usage_errors_are_unknown(args: list[str], code: int) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if code:
        assert "Error: " in result.stderr or "Usage: " in result.stderr


@pytest.mark.parametrize(
    "error",
    [
        DnsError("router said [/] then [red]x[/red] and [link=file:///etc/passwd]y\x1b[31m"),
        ConfigError(["inventory.yaml:1: site: [bold]not[/] closed ["]),
    ],
)
def test_error_text_is_never_markup(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def fail(path: Path) -> None:
        raise error

    monkeypatch.setattr(nmops.cli.check, "load_config", fail)
    result = CliRunner().invoke(main, ["check", "--config", good_config()])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.stderr and result.exception is not None
    assert isinstance(result.exception, SystemExit)
    if isinstance(error, DnsError):
        assert result.stderr == (
            "error: router said [/] then [red]x[/red] and [link=file:///etc/passwd]y\\x1b[31m\n"
        )
    else:
        assert (
            result.stderr
            == "configuration error\n  inventory.yaml:1: site: [bold]not[/] closed [\n"
        )


# --- a resolver that refuses, end to end ------------------------------------------------------


@pytest.fixture
def refusing_resolver() -> Iterator[str]:
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            reply = dns.message.make_response(dns.message.from_wire(data))
            reply.set_rcode(dns.rcode.REFUSED)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(1)
        sock.close()


def test_refusing_resolver_is_a_finding_with_advice(tmp_path: Path, refusing_resolver: str) -> None:
    (tmp_path / "inventory.yaml").write_text(
        "netmeister: {group: fetburner}\nrouters:\n  r1: {ddns: {ipv4: GigaEthernet0.1}}\n",
        encoding="utf-8",
    )
    settings = tmp_path / "nmops.yaml"
    settings.write_text(
        f'dns: {{bootstrap: ["{refusing_resolver}"], timeout: 0.2, retries: 0}}\n',
        encoding="utf-8",
    )
    run = run_nmops("check", "--config", str(settings), "--no-router", "--json")
    assert run.returncode == 3, run
    assert "Traceback" not in run.stderr
    (name,) = json.loads(run.stdout)["routers"][0]["names"]
    assert name["detail"] == (
        "cannot find the authoritative servers for fetburner.nmddns.jp: no resolver could "
        f"answer the SOA query for fetburner.nmddns.jp (asked {refusing_resolver}: REFUSED): "
        "set dns.servers or dns.bootstrap"
    )
