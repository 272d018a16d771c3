"""The command line: parse arguments, call, map to an exit code. The only place that prints.

``main`` is the entry point (``nmops = "nmops.cli:main"``); each module below adds its
commands to it.
"""

from nmops.cli import check, lab, notify, peers, peers_sync, repair, report, service, state  # noqa: F401  (they register their commands)
from nmops.cli.app import main

__all__ = ["main"]
