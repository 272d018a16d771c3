"""Rehearsal: a sync plan applied first to a lab twin of the router.

The twin is the simulator loaded with the router's running config, as strict as the lab's
routers (its grammar refuses what an IX refuses). The plan goes to it through the same driver
and the same line-by-line apply as the real push; then a fresh login must still work and the
twin's config must be what the plan should leave. Only then is the real router touched.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nmops.errors import NmopsError
from nmops.ix import lines
from nmops.ix.dialect import read_command
from nmops.ix.hostkeys import KnownHosts
from nmops.ix.lines import Edit
from nmops.ix.masking import mask_text
from nmops.ix.session import ChangeSession, Target

_USER = "rehearsal"


@dataclass(frozen=True)
class Rehearsal:
    ok: bool
    detail: str


async def rehearse(
    name: str, running_text: str, edits: Sequence[Edit], *, command_timeout: float = 15.0
) -> Rehearsal:
    """Apply ``edits`` to a twin of ``name`` whose config is ``running_text``."""
    # The lab is imported here: a plain `check` never loads the simulator.
    from nmops.lab.ddns import DdnsRegistry
    from nmops.lab.ixsim.lab import SimLab

    if not edits:
        return Rehearsal(True, "nothing to rehearse")
    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="nmops-rehearsal-") as tmp:
        directory = Path(tmp)
        sim = SimLab()
        try:
            endpoints = await sim.start(
                [(name, running_text)],
                DdnsRegistry(),
                fast=True,
                state_dir=directory,
                username=_USER,
                password=password,
            )
        except Exception as exc:  # whatever a real config does to the simulator: no push
            why = mask_text(str(exc))[:300]
            return Rehearsal(False, f"the twin could not start from the running config: {why}")
        try:
            endpoint = endpoints[name]
            target = Target(name, endpoint.host, endpoint.port, _USER, password)
            hosts = KnownHosts(directory / "known_hosts")
            return await _rehearse_on(target, hosts, running_text, edits, command_timeout)
        finally:
            await sim.stop()


async def _rehearse_on(
    target: Target,
    hosts: KnownHosts,
    running_text: str,
    edits: Sequence[Edit],
    command_timeout: float,
) -> Rehearsal:
    expected, _ = lines.apply_all(lines.parse(running_text), edits)
    try:
        async with await ChangeSession.open(
            target, hosts, connect_timeout=5.0, command_timeout=command_timeout
        ) as session:
            result = await session.apply(edits)
            if not result.ok:
                return Rehearsal(
                    False, f"the twin refused {result.failed}: {result.error or 'rejected'}"
                )
    except NmopsError as exc:
        return Rehearsal(False, f"the twin's session failed: {mask_text(str(exc))}")
    try:
        async with await ChangeSession.open(
            target, hosts, connect_timeout=5.0, command_timeout=command_timeout
        ) as session:
            after = lines.parse(await session.show(read_command("show_running")))
    except NmopsError as exc:
        return Rehearsal(
            False, f"after the plan the twin's management path no longer answers ({exc})"
        )
    if not after.same_as(expected):
        moved = sorted(after.paths ^ expected.paths)[:1]
        where = " > ".join(moved[0]) if moved else "?"
        return Rehearsal(False, f"the twin's config is not what the plan should leave ({where})")
    return Rehearsal(True, f"the twin took all {len(edits)} lines and still answers")
