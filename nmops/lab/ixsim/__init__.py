"""Simulated NEC IX routers for the lab: SSH servers speaking the IX CLI (IX-CLI.md).

Start a lab with :class:`SimLab`; configs come from :func:`golden_configs` (the seed network)
and :func:`generate_site_configs` (extra sites for scale tests).
"""

from nmops.lab.ixsim import show
from nmops.lab.ixsim.faults import FAULT_KINDS, KINDS
from nmops.lab.ixsim.lab import LabError, RouterEndpoint, SimLab
from nmops.lab.ixsim.router import SimRouter, Timings
from nmops.lab.ixsim.sites import generate_site_configs, golden_config, golden_configs

__all__ = [
    "FAULT_KINDS",
    "KINDS",
    "LabError",
    "RouterEndpoint",
    "SimLab",
    "SimRouter",
    "Timings",
    "generate_site_configs",
    "golden_config",
    "golden_configs",
    "show",
]
