"""Benchmark: the DNS phase of ``nmops check`` against a local BIND 9.

A 2,000-router inventory (4,000 names) is one pass. Each side runs pass after pass for
``--seconds`` (a single pass takes a fraction of a second, too short to be stable on a shared
2-core machine), in ``--rounds`` interleaved rounds: nmops's DNS phase, the same query set by a
naive sequential dnspython loop, and by Debian's ``dnsperf`` (the ceiling here). It prints each
round's queries/s, then the medians and the ratios of the medians. Then a 10,000-router
inventory is checked end to end by the ``nmops check --json`` command, ``--big-runs`` times:
median wall time and peak RSS.

Targets: nmops >= 4x the naive loop, within 10x of dnsperf; 10,000 routers in < 10 s with peak
RSS < 300 MB. Exit status 1 when a target is missed.

Usage: python bench/check_dns.py [--routers 2000] [--big 10000] [--concurrency 64]
                                 [--rounds 5] [--seconds 3] [--big-runs 3]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.message
import dns.query
from targets import finish

from nmops import aio
from nmops.check import check_dns
from nmops.config.load import load_config
from nmops.lab.bind import Bind
from nmops.lab.configs import LabRouter, write_lab_config

GROUP, ZONE = "bench", "nmddns.jp"


def records(n: int) -> list[tuple[str, str, str]]:
    out = []
    for i in range(n):
        out.append((f"r{i:05d}.{GROUP}", "A", f"203.0.113.{i % 250 + 1}"))
        out.append((f"r{i:05d}.{GROUP}.v6", "AAAA", f"2001:db8:{i:x}::1"))
    return out


def inventory(directory: Path, server: str, n: int, concurrency: int) -> Path:
    routers = [LabRouter(f"r{i:05d}") for i in range(n)]
    return write_lab_config(
        directory,
        dns_servers=[server],
        routers=routers,
        group=GROUP,
        zone=ZONE,
        dns={"rate": 0, "concurrency": concurrency, "timeout": 2.0, "retries": 2},
    )


def query_file(directory: Path, n: int) -> Path:
    path = directory / "queries.txt"
    lines = []
    for i in range(n):
        lines.append(f"r{i:05d}.{GROUP}.{ZONE} A")
        lines.append(f"r{i:05d}.{GROUP}.v6.{ZONE} AAAA")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_nmops_phase(config_path: Path) -> tuple[float, int, int]:
    """In-process: the DNS phase alone. Returns (seconds, queries, problems)."""
    config = load_config(config_path)
    started = time.perf_counter()
    report = aio.run(check_dns(config, config.routers()))
    seconds = time.perf_counter() - started
    bad = sum(1 for r in report.routers for n in r.names if n.status.value != "ok")
    return seconds, report.queries, bad


def nmops_qps(config_path: Path, seconds: float) -> tuple[float, int]:
    """nmops's DNS phase, pass after pass for ``seconds``: (queries/s, names not ok)."""
    total = elapsed = 0.0
    bad = 0
    while elapsed < seconds:
        took, queries, bad = run_nmops_phase(config_path)
        total += queries
        elapsed += took
    return total / elapsed, bad


def naive_qps(bind: Bind, qfile: Path, seconds: float) -> float:
    """A sequential dnspython loop over the same names, for ``seconds``."""
    pairs = [line.split() for line in qfile.read_text().splitlines()]
    sent = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        name, rdtype = pairs[sent % len(pairs)]
        dns.query.udp(dns.message.make_query(name, rdtype), bind.host, port=bind.port, timeout=2)
        sent += 1
    return sent / (time.perf_counter() - started)


def run_dnsperf(bind: Bind, qfile: Path, seconds: float) -> float | None:
    binary = shutil.which("dnsperf")
    if binary is None:
        return None
    command = [binary, "-s", bind.host, "-p", str(bind.port), "-d", str(qfile)]
    out = subprocess.run(
        [*command, "-l", str(seconds), "-q", "200"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Queries per second:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def run_command(config_path: Path) -> tuple[float, float, int]:
    """The whole ``nmops check --json`` command: (seconds, peak RSS MB, exit code)."""
    nmops = Path(sys.executable).parent / "nmops"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(
        [str(nmops), "check", "--json", "--config", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far; nmops is the largest one we start.
    return seconds, max(after, before) / 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=2000)
    parser.add_argument("--big", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--big-runs", type=int, default=3)
    args = parser.parse_args()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nmops-bench-") as tmp:
        base = Path(tmp)
        bind = Bind(base / "bind", zone=ZONE, records=records(max(args.routers, args.big)))
        with bind.running():
            config_path = inventory(base / "small", bind.address, args.routers, args.concurrency)
            qfile = query_file(base, args.routers)
            run_nmops_phase(config_path)  # warm-up: imports, BIND's caches
            names = 2 * args.routers
            print(f"inventory: {args.routers} routers, {names} names, BIND 9 at {bind.address}")
            print(f"{args.rounds} rounds of {args.seconds:g} s per side, interleaved (queries/s):")
            ours: list[float] = []
            naive: list[float] = []
            perf: list[float] = []
            bad = 0
            for number in range(1, args.rounds + 1):
                qps, bad_now = nmops_qps(config_path, args.seconds)
                bad = max(bad, bad_now)
                ours.append(qps)
                naive.append(naive_qps(bind, qfile, args.seconds))
                ceiling = run_dnsperf(bind, qfile, args.seconds)
                if ceiling is not None:
                    perf.append(ceiling)
                shown = f"{perf[-1]:9.0f}" if ceiling is not None else "      n/a"
                print(
                    f"  round {number}: nmops {ours[-1]:9.0f}   naive {naive[-1]:9.0f}   "
                    f"dnsperf {shown}"
                )
            small_cmd_s, small_rss, _ = run_command(config_path)
            nmops_median, naive_median = statistics.median(ours), statistics.median(naive)
            print(f"nmops DNS phase : median {nmops_median:9.0f} queries/s  ({bad} not ok)")
            print(f"naive loop      : median {naive_median:9.0f} queries/s")
            print(f"nmops check cmd : {small_cmd_s:7.3f} s  peak RSS {small_rss:6.1f} MB")
            ratio_naive = nmops_median / naive_median
            print(
                f"nmops / naive   : {ratio_naive:7.2f}x   (target >= 4x; per round "
                f"{min(o / n for o, n in zip(ours, naive, strict=True)):.2f}-"
                f"{max(o / n for o, n in zip(ours, naive, strict=True)):.2f}x)"
            )
            if ratio_naive < 4:
                failures.append(f"nmops is only {ratio_naive:.2f}x the naive loop")
            if not perf:
                print("dnsperf         : not installed (apt-get install dnsperf)")
                failures.append("dnsperf missing")
            else:
                perf_median = statistics.median(perf)
                ratio_perf = perf_median / nmops_median
                print(f"dnsperf         : median {perf_median:9.0f} queries/s")
                print(f"dnsperf / nmops : {ratio_perf:7.2f}x   (target <= 10x)")
                if ratio_perf > 10:
                    failures.append(f"dnsperf is {ratio_perf:.1f}x nmops")
            if bad:
                failures.append(f"{bad} names were not ok")

            big_path = inventory(base / "big", bind.address, args.big, args.concurrency)
            runs = [run_command(big_path) for _ in range(args.big_runs)]
            big_s = statistics.median(r[0] for r in runs)
            big_rss = max(r[1] for r in runs)
            big_rc = max(r[2] for r in runs)
            print(
                f"{args.big} routers : median {big_s:7.3f} s over {len(runs)} runs  "
                f"peak RSS {big_rss:6.1f} MB  exit {big_rc}   (targets < 10 s, < 300 MB, exit 0)"
            )
            if big_s >= 10 or big_rss >= 300 or big_rc != 0:
                failures.append(f"{args.big} routers: {big_s:.2f} s, {big_rss:.0f} MB, rc {big_rc}")
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
