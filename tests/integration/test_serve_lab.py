"""`nmops serve` as a real process against the lab: jobs fire on their (compressed) cron
schedules and are recorded, metrics and /healthz answer over HTTP, SIGHUP reloads the job
files (a bad one does not stop the others), SIGTERM mid-job lets the step in hand finish,
starts no other, and exits 0 with nothing left unfinished in the journal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from nmops.config.load import load_config
from nmops.lab.bind import free_port
from nmops.state import Store, actions_for, unfinished
from nmops.state.jobruns import JobRun, job_runs_since
from tests.integration.labutil import KAGAWA, LabThread, fqdn

pytestmark = pytest.mark.lab

NMOPS = Path(sys.executable).parent / "nmops"
EPOCH = __import__("datetime").datetime(2000, 1, 1, tzinfo=__import__("datetime").UTC)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabThread]:
    with LabThread(tmp_path / "lab") as running:
        yield running


def job(
    directory: Path, name: str, run: str, schedule: str = "*/2 * * * * *", **extra: str
) -> None:
    body = f"name: {name}\nschedule: '{schedule}'\ntimezone: UTC\nrun: {run}\n"
    body += "".join(f"{k}: {v}\n" for k, v in extra.items())
    (directory / f"{name}.yaml").write_text(body)


def runs(lab: LabThread) -> list[JobRun]:
    config = load_config(lab.config_path)
    with Store.open(config.settings.state.resolved(config.base_dir)) as store:
        return job_runs_since(store, EPOCH)


def wait_for(what: Callable[[], bool], timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.3)


def serve(lab: LabThread, jobs: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(NMOPS), "serve", "--config", str(lab.config_path), "--jobs", str(jobs), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"serve did not stop on SIGTERM:\n{out}") from None
    return process.returncode, out


def test_jobs_fire_metrics_answer_and_sighup_reloads(lab: LabThread, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    job(jobs, "watch", "check")
    port = free_port()
    process = serve(lab, jobs, "--metrics", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: any(r.job == "watch" and r.outcome == "ok" for r in runs(lab)))
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'nmops_job_runs_total{job="watch",outcome="ok"}' in metrics
        assert (
            f'nmops_subject_ok{{router="{KAGAWA}",status="ok",subject="name:ipv6"}} 1.0' in metrics
        )
        assert "nmops_scheduler_up 1.0" in metrics and "nmops_outbox_depth 0.0" in metrics
        # Per router, name and server: what the lab's authoritative server answered.
        answers = [
            line
            for line in metrics.splitlines()
            if line.startswith("nmops_dns_answer_ok{")
            and f'name="{fqdn(KAGAWA, "ipv6")}"' in line
            and f'router="{KAGAWA}"' in line
        ]
        (answer,) = answers
        assert 'server="127.0.0.1' in answer and 'status="ok"' in answer, answer
        assert answer.endswith(" 1.0"), answer
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        # A new job and a broken one, then SIGHUP: the new one runs, the old one goes on.
        job(jobs, "watch-kagawa", "check", routers=f"[{KAGAWA}]")
        (jobs / "broken.yaml").write_text("name: broken\nschedule: nonsense\nrun: check\n")
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: any(r.job == "watch-kagawa" and r.outcome == "ok" for r in runs(lab)))
        before = sum(r.job == "watch" for r in runs(lab))
        wait_for(lambda: sum(r.job == "watch" for r in runs(lab)) > before)
    finally:
        code, out = stop(process)
    assert code == 0, out
    assert "broken.yaml:2: schedule" in out
    assert "Traceback" not in out


def test_sigterm_mid_job_finishes_the_step_and_starts_no_other(
    lab: LabThread, tmp_path: Path
) -> None:
    lab.fault(KAGAWA, "ddns-v6-stuck")
    lab.fault(KAGAWA, "address-change")
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    # A fix that walks the whole ladder (re-register, client restart, reboot): seconds long.
    job(jobs, "repair", "fix", schedule="*/1 * * * * *", apply="true")
    process = serve(lab, jobs)
    try:
        # Two checks' worth of evidence first (confirm_after), then a run that acts: stop it
        # once the ladder has sent its first change.
        def acting() -> bool:
            sent = lab.log(KAGAWA).lines
            return any(line.startswith("no nm ddns notify") for line in sent) and any(
                r.job == "repair" and r.outcome == "running" for r in runs(lab)
            )

        wait_for(acting, timeout=60)
    finally:
        code, out = stop(process)
    assert code == 0, out
    config = load_config(lab.config_path)
    with Store.open(config.settings.state.resolved(config.base_dir)) as store:
        assert unfinished(store) == []
        # A ladder cut short calls no person: its last rung was not reached.
        told = [(a.rung, a.outcome) for a in actions_for(store, KAGAWA)]
        assert not [t for t in told if t[1] == "blocked"], told
    done = runs(lab)
    assert all(r.outcome != "running" for r in done), done
    assert done and all(r.finished_at is not None for r in done)  # it finished its step
    # ... and started no other: the client restart and the reboot were left for the next run.
    sent = lab.log(KAGAWA).lines
    assert not any(line.startswith(("no nm ip enable", "reload")) for line in sent), sent
    stopped = [r for r in done if r.job == "repair" and "nmops was stopping" in (r.detail or "")]
    assert stopped, done
    assert "Traceback" not in out
