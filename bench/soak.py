"""Soak: `nmops serve` against a lab of 20 routers with a compressed schedule, faults injected
and cleared along the way, mail caught by a real SMTP server (aiosmtpd) in this process.

The jobs are generated with 6-field cron schedules (seconds first): a check every 5 s, a
repair (`fix`, apply) every 15 s, the digest every 2 minutes. While it runs, one fault at a
time is injected into a generated router and cleared again (`nmops lab fault|clear`); a fault
a repair cures (a lost DDNS registration) is also cleared, so the lab's switch is reset.

It prints the job runs by outcome, idle RSS (before the first job), peak and final RSS, the
mean RSS of the first and the last minute, the database size and the mails received, and per
fault how many incidents opened and resolved and how many mails named the router.

Targets: idle RSS under 100 MB; RSS growth under 10 % from the first to the last minute;
every fault alerted once and resolved once (a fault the repair job cures before its incident
opens: its one action notice). Exit status 1 when a target is missed.

Usage: python bench/soak.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import contextlib
import email
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from labrun import NMOPS, nmops, start_lab
from targets import finish

EXTRA = 18  # generated sites; with the seed's two, 20 routers
# (faults, seconds held): each injected into one generated router, held, then cleared; the
# seed pair's tunnels stay up as a control.
FAULTS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("ssh-down",), 20.0),
    # A lost registration shows only when the address moves: then DNS is stale until the
    # repair job re-registers.
    (("ddns-v4-needs-reregister", "address-change"), 40.0),
    (("config-locked",), 20.0),
    (("ddns-v6-needs-reregister", "address-change"), 40.0),
)
# Faults the repair job cures by itself (the others wait for `nmops lab clear`).
REPAIRED = frozenset({"ddns-v4-needs-reregister+address-change",
                      "ddns-v6-needs-reregister+address-change"})  # fmt: skip
GAP = 15.0  # seconds between clearing one fault and injecting the next
SETTLE = 30.0  # after the last clear: two good checks resolve it, the mail goes out


@dataclass
class Inbox:
    """What the SMTP server accepted (subjects and text), counted under a lock."""

    mails: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email_policy)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        with self.lock:
            self.mails.append((str(message["Subject"]), str(text)))
        return "250 OK"


def configure(directory: Path, smtp_port: int) -> Path:
    """The lab's nmops.yaml with mail to the bench's SMTP server, and the job files."""
    path = directory / "nmops.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["mail"] = {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "timeout": 10},
        "from": "nmops@lab.example",
        "to": [{"address": "ops@lab.example"}],
    }
    settings["report"] = {"language": "en"}
    # No reminders inside the soak: each fault should make exactly one open and one resolve.
    settings["incidents"] = {"resolve_after": 2, "remind_every": "1d"}
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    jobs = directory / "jobs"
    jobs.mkdir()
    for name, schedule, run, extra in (
        ("watch", "*/5 * * * * *", "check", {}),
        ("repair", "2-59/15 * * * * *", "fix", {"apply": True}),
        ("digest", "30 */2 * * * *", "report", {"since": "1h"}),
    ):
        body = {"name": name, "schedule": schedule, "timezone": "UTC", "run": run, **extra}
        (jobs / f"{name}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    return jobs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def routers(directory: Path) -> list[str]:
    inventory = yaml.safe_load((directory / "inventory.yaml").read_text())
    return list(inventory["routers"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    inbox = Inbox()
    smtp_port = _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nmops-soak-") as tmp:
        directory = Path(tmp) / "lab"
        lab = start_lab(directory, "--routers", str(EXTRA))
        serve: subprocess.Popen[str] | None = None
        stack = contextlib.ExitStack()
        try:
            jobs = configure(directory, smtp_port)
            names = routers(directory)
            targets = [n for n in names if not n.startswith("ix2215-")] or names
            log = stack.enter_context((directory / "serve.log").open("w"))
            # Start just after a 5-second boundary (and clear of the repair's seconds), so
            # the idle sample below comes before the first job fires.
            while not 5.2 <= time.time() % 15 < 5.5:
                time.sleep(0.05)
            serve = subprocess.Popen(
                [str(NMOPS), "serve", "--config", str(directory / "nmops.yaml"),
                 "--jobs", str(jobs)],
                stdout=log, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, "NO_COLOR": "1"},
            )  # fmt: skip
            started = time.monotonic()
            time.sleep(4.0)
            idle = rss_mb(serve.pid)
            samples: list[tuple[float, float]] = []
            injected: list[tuple[str, str]] = []
            plan = _fault_plan(targets, seconds)
            while time.monotonic() - started < seconds and serve.poll() is None:
                now = time.monotonic() - started
                while plan and plan[0][0] <= now:
                    _, action, router, kind = plan.pop(0)
                    if action == "fault":
                        for one in kind.split("+"):
                            done = nmops("lab", "fault", "--dir", str(directory), router, one)
                        injected.append((router, kind))
                    else:
                        done = nmops("lab", "clear", "--dir", str(directory), router)
                    print(f"{now:6.1f} s  {action} {router} {kind}: rc {done.returncode}",
                          flush=True)  # fmt: skip
                rss = rss_mb(serve.pid)
                if rss is not None:
                    samples.append((time.monotonic() - started, rss))
                time.sleep(1.0)
            serve.send_signal(signal.SIGTERM)
            code = serve.wait(120)
            serve = None
            failures += report(directory, inbox, idle, samples, injected, code, seconds)
        finally:
            if serve is not None:
                serve.kill()
                serve.wait(10)
            stack.close()
            nmops("lab", "down", "--dir", str(directory))
            lab.wait(30)
            smtp.stop()
    return finish(failures)


def _fault_plan(targets: list[str], seconds: float) -> list[tuple[float, str, str, str]]:
    """When to inject and clear each fault; as many as fit, leaving time to resolve."""
    plan: list[tuple[float, str, str, str]] = []
    at = 15.0  # after a few green checks
    for i, (kinds, hold) in enumerate(FAULTS * 10):
        kind = "+".join(kinds)
        if at + hold + SETTLE > seconds:
            break
        router = targets[i % len(targets)]
        plan += [(at, "fault", router, kind), (at + hold, "clear", router, kind)]
        at += hold + GAP
    return plan


def report(
    directory: Path,
    inbox: Inbox,
    idle: float | None,
    samples: list[tuple[float, float]],
    injected: list[tuple[str, str]],
    code: int,
    seconds: float,
) -> list[str]:
    failures: list[str] = []
    db = directory / "state.db"
    conn = sqlite3.connect(db)
    try:
        outcomes = dict(conn.execute("SELECT outcome, count(*) FROM job_runs GROUP BY outcome"))
        by_job = conn.execute(
            "SELECT job, outcome, count(*) FROM job_runs GROUP BY job, outcome ORDER BY job"
        ).fetchall()
        incidents = conn.execute(
            "SELECT router, subject, opened_at, resolved_at FROM incidents "
            "WHERE opened_at IS NOT NULL ORDER BY id"
        ).fetchall()
        alerts = conn.execute(
            "SELECT subject, body FROM outbox WHERE key LIKE 'alert:%' AND state = 'sent'"
        ).fetchall()
        unfinished = conn.execute(
            "SELECT count(*) FROM journal WHERE state IN ('pending', 'sending', 'undoing')"
        ).fetchone()[0]
    finally:
        conn.close()
    size = sum(p.stat().st_size for p in directory.glob("state.db*")) / 1e6
    rss = [r for _, r in samples]
    first = [r for t, r in samples if t < 60]
    last = [r for t, r in samples if t >= seconds - 60]
    print(f"\nserve exit status: {code}; unfinished journal entries: {unfinished}")
    print("job runs: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    for job, outcome, n in by_job:
        print(f"  {job:8s} {outcome:8s} {n}")
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    print(f"RSS: idle {idle or 0:.1f} MB, peak {max(rss, default=0):.1f} MB, final "
          f"{rss[-1] if rss else 0:.1f} MB; first minute {mean(first):.1f} MB, last minute "
          f"{mean(last):.1f} MB")  # fmt: skip
    minutes = [
        [r for t, r in samples if m * 60 <= t < (m + 1) * 60] for m in range(int(seconds // 60) + 1)
    ]
    print("RSS by minute (mean MB): " + " ".join(f"{mean(xs):.1f}" for xs in minutes if xs))
    print(f"database: {size:.2f} MB (state.db with its WAL)")
    with inbox.lock:
        mails = list(inbox.mails)
    print(f"mails received: {len(mails)} ({len(alerts)} alerts, the rest digests)")
    for subject, _ in mails:
        print(f"  {subject}")
    for router, kind in injected:
        opened = [i for i in incidents if i[0] == router]
        resolved = [i for i in opened if i[3] is not None]
        named = sum(1 for subject, body in alerts if router in subject or router in body)
        print(f"fault {kind:26s} on {router}: {len(opened)} opened, {len(resolved)} resolved, "
              f"{named} alert mails name it")  # fmt: skip
        if kind in REPAIRED:
            # The repair job may cure it before an incident opens: then the action notice is
            # its one alert; an incident, if it opened, must have resolved.
            ok = len(opened) == len(resolved) <= 1 and 1 <= named <= 1 + 2 * len(opened)
        else:
            ok = len(opened) == 1 and len(resolved) == 1 and named == 2
        if not ok:
            failures.append(
                f"{kind} on {router}: {len(opened)} opened, {len(resolved)} resolved, "
                f"{named} alert mails"
            )
    if code != 0:
        failures.append(f"nmops serve exited {code} on SIGTERM")
    if unfinished:
        failures.append(f"{unfinished} unfinished journal entries")
    if idle is None or idle >= 100:
        failures.append(f"idle RSS {idle} MB (target < 100 MB)")
    if first and last and mean(last) > 1.1 * mean(first):
        failures.append(f"RSS grew {mean(last) / mean(first) - 1:.0%} (target < 10 %)")
    return failures


if __name__ == "__main__":
    sys.exit(main())
