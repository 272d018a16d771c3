"""nmops: keeps NEC UNIVERGE IX VPNs alive when they depend on NetMeister DDNS."""

import logging

__version__ = "0.1.0"

# Libraries log; only the CLI configures handlers.
logging.getLogger(__name__).addHandler(logging.NullHandler())
