"""Benchmark: collecting facts from 200 lab routers over SSH, concurrently and one at a time.

Starts ``nmops lab up --routers 198 --fast`` (2 seed + 198 generated routers) in a separate
process beside this one, then prints: the wall time to collect facts from all 200 routers at
``ssh.concurrency`` (50 in the lab config unless ``--concurrency`` says otherwise), the
per-router median, how many were reachable, the peak RSS of this (the measuring) process and
the CPU both processes used meanwhile; then the same done one router at a time, timed over the
first ``--sequential-sample`` routers and extrapolated linearly to all of them; then the speedup.

It runs twice. First with routers that answer at once: on this 2-core machine both processes
are then CPU-bound, so concurrency can only use the second core; that figure is printed as the
reference. Then with every router reply delayed ``--latency`` seconds (50 ms by default: a
real IX's CLI plus a WAN round trip are slower than that), which is what concurrency exists to
overlap; the speedup target is judged on that run.

Targets: all 200 in < 20 s (both runs); speedup >= 8x (the delayed run); every router
reachable. Exit status 1 when a target is missed.

Usage: python bench/router_facts.py [--routers 198] [--concurrency 50] [--sequential-sample 40]
                                    [--latency 0.05]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from targets import finish

from nmops import aio
from nmops.config.load import Config, load_config
from nmops.ix.facts import collect_all, collect_facts, known_hosts
from nmops.ix.observed import RouterFacts

READY_TIMEOUT = 300.0


def nmops_binary() -> str:
    return str(Path(sys.executable).parent / "nmops")


def start_lab(directory: Path, extra: int, latency: float) -> subprocess.Popen[str]:
    """``nmops lab up`` in its own process; returns once it has printed ``ready``."""
    errors = directory.parent / "lab-stderr.txt"
    with errors.open("w") as err_file:  # a file, not a pipe: a chatty lab must never block
        command = ["lab", "up", "--dir", str(directory), "--routers", str(extra), "--fast"]
        command += ["--latency", str(latency)]
        proc = subprocess.Popen(
            [nmops_binary(), *command],
            stdout=subprocess.PIPE,
            stderr=err_file,
            text=True,
        )
    assert proc.stdout is not None
    ready = threading.Event()
    lines: list[str] = []

    def watch() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.strip() == "ready":
                ready.set()
        ready.set()  # EOF: the lab exited

    threading.Thread(target=watch, daemon=True).start()
    if not ready.wait(READY_TIMEOUT) or proc.poll() is not None:
        proc.kill()
        proc.wait(timeout=10)
        shown = "\n".join([*lines, errors.read_text().strip()]).strip()
        raise RuntimeError(f"the lab did not become ready:\n{shown}")
    return proc


def stop_lab(directory: Path, proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        subprocess.run(
            [nmops_binary(), "lab", "down", "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=60,
        )
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def with_concurrency(config: Config, concurrency: int | None) -> Config:
    if concurrency is None:
        return config
    ssh = config.settings.ssh.model_copy(update={"concurrency": concurrency})
    settings = config.settings.model_copy(update={"ssh": ssh})
    return dataclasses.replace(config, settings=settings)


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU of this process, or of process ``pid`` (Linux /proc; 0 elsewhere)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_concurrent(config: Config) -> tuple[float, dict[str, RouterFacts]]:
    started = time.perf_counter()
    facts = aio.run(collect_all(config, config.routers()))
    return time.perf_counter() - started, facts


def run_sequential(config: Config, sample: int) -> tuple[float, list[RouterFacts]]:
    routers = config.routers()[:sample]

    async def loop() -> list[RouterFacts]:
        hosts = known_hosts(config)
        return [await collect_facts(config, r, hosts) for r in routers]

    started = time.perf_counter()
    facts = aio.run(loop())
    return time.perf_counter() - started, facts


@dataclasses.dataclass
class Run:
    latency: float
    lab_s: float
    total: int
    concurrency: int
    seconds: float
    facts: dict[str, RouterFacts]
    self_cpu: float
    lab_cpu: float
    seq_s: float
    sample: int
    seq_facts: list[RouterFacts]

    @property
    def seq_total(self) -> float:
        return self.seq_s * self.total / self.sample

    @property
    def speedup(self) -> float:
        return self.seq_total / self.seconds

    @property
    def reachable(self) -> int:
        return sum(1 for f in self.facts.values() if f.reachable)


def measure(extra: int, latency: float, concurrency: int | None, sample_size: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="nmops-bench-") as tmp:
        directory = Path(tmp) / "lab"
        lab_started = time.perf_counter()
        proc = start_lab(directory, extra, latency)
        lab_s = time.perf_counter() - lab_started
        try:
            config = with_concurrency(load_config(directory / "nmops.yaml"), concurrency)
            total = len(config.routers())
            cpu_before = cpu_seconds(), cpu_seconds(proc.pid)
            seconds, facts = run_concurrent(config)
            self_cpu = cpu_seconds() - cpu_before[0]
            lab_cpu = cpu_seconds(proc.pid) - cpu_before[1]
            sample = min(sample_size, total)
            seq_s, seq_facts = run_sequential(config, sample)
        finally:
            stop_lab(directory, proc)
    return Run(
        latency,
        lab_s,
        total,
        config.settings.ssh.concurrency,
        seconds,
        facts,
        self_cpu,
        lab_cpu,
        seq_s,
        sample,
        seq_facts,
    )


def report(run: Run, label: str) -> None:
    median = statistics.median(f.seconds for f in run.facts.values())
    seq_reachable = sum(1 for f in run.seq_facts if f.reachable)
    print(f"--- {label}: router replies delayed {run.latency * 1000:.0f} ms")
    print(f"lab: {run.total} routers in a separate process, ready in {run.lab_s:.1f} s")
    print(
        f"concurrent ({run.concurrency:3d}) : {run.seconds:7.3f} s  median {median:6.3f} s/router"
        f"  {run.reachable}/{run.total} reachable"
    )
    print(
        f"CPU (concurrent) : this process {run.self_cpu:6.2f} s "
        f"({run.self_cpu / run.seconds:4.0%} of a core), lab {run.lab_cpu:6.2f} s "
        f"({run.lab_cpu / run.seconds:4.0%}); {os.cpu_count()} CPUs"
    )
    how = "measured" if run.sample == run.total else f"first {run.sample} measured, extrapolated"
    print(
        f"one at a time    : {run.seq_total:7.3f} s  ({how}: {run.seq_s:.3f} s, "
        f"{run.seq_s / run.sample:.3f} s/router, {seq_reachable}/{run.sample} reachable)"
    )
    print(f"speedup          : {run.speedup:7.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=198, help="generated routers (+ 2 seed)")
    parser.add_argument("--concurrency", type=int, default=None, help="override ssh.concurrency")
    parser.add_argument("--sequential-sample", type=int, default=40)
    parser.add_argument(
        "--latency",
        type=float,
        default=0.05,
        help="seconds each router reply is delayed in the judged run (a real IX's CLI and a "
        "WAN round trip); a run with none is printed first as the CPU-bound reference",
    )
    args = parser.parse_args()
    reference = measure(args.routers, 0.0, args.concurrency, args.sequential_sample)
    report(reference, "reference, no delay (CPU-bound: both processes share 2 cores)")
    judged = measure(args.routers, args.latency, args.concurrency, args.sequential_sample)
    report(judged, "judged")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the measuring process: {rss_mb:.1f} MB")
    failures: list[str] = []
    for run in (reference, judged):
        if run.seconds >= 20:
            failures.append(f"{run.total} routers took {run.seconds:.2f} s")
        if run.reachable < run.total:
            bad = [f"{f.name}: {f.error}" for f in run.facts.values() if not f.reachable]
            failures.append(f"{run.total - run.reachable} unreachable, e.g. {bad[0]}")
    if judged.speedup < 8:
        failures.append(f"speedup is only {judged.speedup:.2f}x with replies delayed")
    print(f"targets: all {judged.total} in < 20 s (both runs), speedup >= 8x (judged run)")
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
