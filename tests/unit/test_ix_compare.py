"""Running vs startup config: saved or not, block-aware and order-free."""

from __future__ import annotations

import pytest

from nmops.ix.compare import config_saved, normalise_config

RUNNING = """\
! NEC Portable Internetwork Core Operating System Software
! IX Series IX2215 (magellan-sec) Software, Version 10.7.18, RELEASE SOFTWARE
! Compiled Oct 25-Tue-2022 12:37:13 JST #2
! Current time May 26-Sun-2024 16:08:00 JST
!
hostname ix2215-tokyo
timezone +09 00
!
interface GigaEthernet0.0
  ip address 192.168.1.30/24
  no shutdown
!
interface GigaEthernet2.0
  ip address 10.0.0.1/24
  no shutdown
!
"""

# The same config, another moment, another order, CRLF, echoed command and trailing prompt.
STARTUP_REORDERED = (
    "ix2215-tokyo(config)# show config\r\n"
    "! NEC Portable Internetwork Core Operating System Software\r\n"
    "! Current time May 27-Mon-2024 09:00:00 JST\r\n"
    "!\r\n"
    "timezone +09 00\r\n"
    "hostname ix2215-tokyo\r\n"
    "!\r\n"
    "interface GigaEthernet2.0\r\n"
    "  no shutdown\r\n"
    "  ip address 10.0.0.1/24\r\n"
    "!\r\n"
    "interface GigaEthernet0.0\r\n"
    "  ip address 192.168.1.30/24\r\n"
    "  no shutdown\r\n"
    "!\r\n"
    "ix2215-tokyo(config)# "
)


def test_normalise_drops_header_and_pairs_lines_with_blocks() -> None:
    assert normalise_config(RUNNING) == {
        (None, "hostname ix2215-tokyo"),
        (None, "timezone +09 00"),
        (None, "interface GigaEthernet0.0"),
        ("interface GigaEthernet0.0", "ip address 192.168.1.30/24"),
        ("interface GigaEthernet0.0", "no shutdown"),
        (None, "interface GigaEthernet2.0"),
        ("interface GigaEthernet2.0", "ip address 10.0.0.1/24"),
        ("interface GigaEthernet2.0", "no shutdown"),
    }


def test_reordered_config_is_saved() -> None:
    assert config_saved(RUNNING, STARTUP_REORDERED)


@pytest.mark.parametrize(
    "startup",
    [
        # A line missing from startup.
        RUNNING.replace("timezone +09 00\n", ""),
        # A line changed inside a block.
        RUNNING.replace("10.0.0.1/24", "10.0.0.2/24"),
        # The same line moved to another block matters.
        RUNNING.replace(
            "  ip address 192.168.1.30/24\n  no shutdown\n", "  ip address 192.168.1.30/24\n"
        ).replace("  ip address 10.0.0.1/24\n", "  ip address 10.0.0.1/24\n  shutdown\n"),
        # An empty startup config.
        "",
    ],
)
def test_differences_are_unsaved(startup: str) -> None:
    assert not config_saved(RUNNING, startup)


def test_only_header_differs() -> None:
    later = RUNNING.replace("May 26-Sun-2024 16:08:00", "Jun 01-Sat-2024 00:00:01")
    assert config_saved(RUNNING, later)
