"""What the simulated IX prints, as data (pure).

Texts marked [C] in IX-CLI.md are copied from real transcripts; the rest are guesses that keep
the same style, kept here so a better transcript is a one-line change.
"""

from __future__ import annotations

MODEL = "IX2215"
FIRMWARE = "10.7.18"
CLOCK_FORMAT = "%b %d-%a-%Y %H:%M:%S JST"  # `May 26-Sun-2024 16:08:00 JST` [C]
NM_CLOCK_FORMAT = "%Y/%m/%d %H:%M:%S"  # `2026/02/24 06:38:45` [C]

FIRMWARE_BANNER = (
    "NEC Portable Internetwork Core Operating System Software",
    f"IX Series {MODEL} (magellan-sec) Software, Version {FIRMWARE}, RELEASE SOFTWARE",
)
COMPILED = "Compiled Oct 25-Tue-2022 12:37:13 JST #2"
ROM_LINES = (
    "ROM: System Bootstrap, Version 22.1",
    "System Diagnostic, Version 22.1",
    "Initialization Program, Version 3.1",
)
IMAGE_FILE = "ix2215-ms-10.7.18.ldc"
WAKE_POWER_ON = "power-on"
WAKE_COMMAND = "command execution"

# Errors [code]; `{word}` is the first word the router did not understand.
INVALID = "% {word} -- Invalid command."
INCOMPLETE = "% Expects a subcommand or item selection."
OCCUPIED = "% CONFIG process is occupied."
ENTER_CONFIG = "Enter configuration commands, one per line. End with CNTL/Z."  # [C]

# Saving [C]
SAVE_LINES = (
    "Building configuration...",
    "% Warning: do NOT enter CNTL/Z while saving to avoid config corruption.",
)
COPY_LINE = 'Copying from "running-config" to "startup-config"'

# Reload [C]
RELOAD_UNSAVED = "% Warning: current running-configuration is not saved yet."
RELOAD_NOTICE = (
    "Notice: The router will be RELOADED. This is to ensure that",
    "        the peripheral devices are properly initialized.",
)
RELOAD_QUESTION = "Are you sure you want to reload the router? (Yes or [No]): "

PAGER_MARK = "--More--"
# Erases the marker before the next page; dialect.clean_output strips it.
PAGER_ERASE = "\b" * len(PAGER_MARK) + " " * len(PAGER_MARK) + "\b" * len(PAGER_MARK)
NVRAM_BYTES = 1048576  # `1024K bytes of non-volatile configuration memory` (IX2215) [C]
DEFAULT_PAGE_LENGTH = 24
DEFAULT_WIDTH = 80
MAX_WIDTH = 512

RESTART_NOTICE = "% You must restart the router for this configuration to take effect."  # [C]
