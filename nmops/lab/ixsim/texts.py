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
OCCUPIED_HINT = "% Use 'svintr-config' to take over the CONFIG process."  # [?] wording

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
DEFAULT_PAGE_LENGTH = 24
DEFAULT_WIDTH = 80
MAX_WIDTH = 512

# Words the simulator accepts at the top of a config line (generous: IX has many more
# features than the lab models, and a line the lab does not understand is still kept).
TOP_KEYWORDS = frozenset(
    {
        "banner", "bridge", "clock", "crypto", "dns", "hostname", "http-server", "ike",
        "ikev2", "interface", "ip", "ipsec", "ipv6", "logging", "network-monitor", "nm", "no",
        "ntp", "pki", "ppp", "proxy-dns", "route-map", "snmp-agent", "ssh-server", "syslog",
        "telnet-server", "timezone", "username", "watch-group",
    }
)  # fmt: skip
# Words accepted inside any block (interfaces, profiles, watch-groups, OSPF ...).
BLOCK_KEYWORDS = frozenset(
    {
        "action", "area", "authentication", "auto-connect", "bridge-group", "connect",
        "default-gateway", "default-information", "delay", "description", "distance",
        "dns-server", "domain-name", "dpd", "duplex", "encapsulation", "event", "gateway",
        "information-request", "ikev2", "ip", "ipcp", "ipsec", "ipv6", "keepalive",
        "lcp", "lease-time", "lifetime", "local-authentication", "match", "mtu", "network",
        "no", "option-request", "passive-interface", "ppp", "pppoe", "proposal", "redistribute",
        "router-id", "set", "shutdown", "speed", "tunnel", "vlan-id",
    }
)  # fmt: skip
# Words that make a complete line alone; any other known word alone is incomplete.
STANDALONE = frozenset({"shutdown", "information-request"})
