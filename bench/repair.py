"""Benchmark: from a fault to a healthy check, with `nmops check` + `nmops fix --apply` run
at a fixed interval, as cron or `nmops serve` would, on the lab with its fast timers.

For each scenario a fresh lab (`nmops lab up --fast`, its own state database) is started in a
separate process; the fault is injected into ix2215-kagawa; then, every ``--interval``
seconds, one `nmops check` and one `nmops fix --apply`, and a check after the fix, until a
check says OK. It prints the time from the injection to that check, how many intervals it
took, and the steps the fix walked.

Targets: `address-change` repaired within 2 intervals plus the DDNS wait (it needs two bad
checks before acting, then a re-registration); `ddns-v6-stuck` within 3 intervals plus one
reboot (re-register and client restart first, each waiting for DNS, then the reboot). Exit
status 1 when a target is missed.

Usage: python bench/repair.py [--interval 10] [--timeout 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml
from labrun import nmops, start_lab
from targets import finish

ROUTER = "ix2215-kagawa"
SCENARIOS = {
    "address-change": ("address-change",),
    "ddns-v6-stuck": ("ddns-v6-stuck", "address-change"),
}


def run_scenario(
    name: str, faults: tuple[str, ...], interval: float, timeout: float
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="nmops-repair-") as tmp:
        directory = Path(tmp) / "lab"
        lab = start_lab(directory)
        config = str(directory / "nmops.yaml")
        policy = yaml.safe_load((directory / "nmops.yaml").read_text())["policy"]
        try:
            for kind in faults:
                done = nmops("lab", "fault", "--dir", str(directory), ROUTER, kind)
                assert done.returncode == 0, done.stderr
            injected = time.monotonic()
            intervals = 0
            walked: list[str] = []
            while time.monotonic() - injected < timeout:
                tick = time.monotonic()
                intervals += 1
                nmops("check", "--quiet", "--config", config)
                fixed = nmops("fix", "--apply", "--json", "--config", config)
                if fixed.stdout.strip().startswith("{"):
                    doc = json.loads(fixed.stdout)
                    walked += [f"{a['step']}:{a['outcome']}" for a in doc["applied"] or []]
                if nmops("check", "--quiet", "--config", config).returncode == 0:
                    return {
                        "seconds": time.monotonic() - injected,
                        "intervals": intervals,
                        "steps": walked,
                        "policy": policy,
                    }
                time.sleep(max(0.0, interval - (time.monotonic() - tick)))
            return {"seconds": None, "intervals": intervals, "steps": walked, "policy": policy}
        finally:
            nmops("lab", "down", "--dir", str(directory))
            lab.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    failures: list[str] = []
    for name, faults in SCENARIOS.items():
        result = run_scenario(name, faults, args.interval, args.timeout)
        policy = result["policy"]
        assert isinstance(policy, dict)
        seconds = result["seconds"]
        if name == "address-change":
            bound = 2 * args.interval + float(policy["ddns_wait"])
            budget = f"2 intervals + DDNS wait = {bound:.1f} s"
        else:
            bound = 3 * args.interval + float(policy["reboot_wait"])
            budget = f"3 intervals + one reboot (reboot_wait) = {bound:.1f} s"
        shown = "not repaired" if seconds is None else f"{seconds:6.1f} s"
        print(
            f"{name:15s}: {shown} after injection, {result['intervals']} interval(s) of "
            f"{args.interval:g} s   (target <= {budget})"
        )
        print(f"{'':15s}  steps: {', '.join(map(str, result['steps'])) or 'none'}")
        if not isinstance(seconds, float) or seconds > bound:
            failures.append(f"{name}: {shown} (target {bound:.1f} s)")
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
