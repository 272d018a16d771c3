"""The IX dialect: prompts, modes, commands, error vs informational lines, unsafe arguments."""

from __future__ import annotations

import re

import pytest

from nmops.errors import RouterError
from nmops.ix import dialect
from nmops.ix.dialect import Mode, ReadCommand, UnsafeArgument

# Other tools' prompt regexes (IX-CLI.md), to show ours accepts no more than they do.
OXIDIZED_PROMPT_RE = re.compile(r"^(\([\w.-]*\)\s[#$]|^\S+[$#]\s?)$")
STRICT_PROMPT_RE = re.compile(r"^[A-Za-z0-9._-]+(\([^)]*\))?[#%] ?$")

# (line, expected classification, Oxidized regex matches, stricter regex matches)
PROMPTS = [
    ("router# ", (Mode.OPERATION, "router", None), True, True),
    ("ix2215-tokyo# ", (Mode.OPERATION, "ix2215-tokyo", None), True, True),
    ("ix2215-tokyo#", (Mode.OPERATION, "ix2215-tokyo", None), True, True),
    ("router% ", (Mode.MONITOR, "router", None), False, True),  # Oxidized knows no `%`
    ("router(config)# ", (Mode.CONFIG, "router", None), True, True),
    ("router(config)# \r\n", (Mode.CONFIG, "router", None), True, True),
    (
        "ix2215(config-GigaEthernet2.0)# ",
        (Mode.CONFIG_SUB, "ix2215", "GigaEthernet2.0"),
        True,
        True,
    ),
    (
        "ix2215(config-watch-map-e-10)# ",
        (Mode.CONFIG_SUB, "ix2215", "watch-map-e-10"),
        True,
        True,
    ),
    ("ix2215(config-ppp-flets-v4)# ", (Mode.CONFIG_SUB, "ix2215", "ppp-flets-v4"), True, True),
    ("ix.lab_1(config)# ", (Mode.CONFIG, "ix.lab_1", None), True, True),
    # Not prompts: output lines, echoed commands, a `(config)%` no user can reach.
    ("router# show version", None, False, False),
    ("Interface GigaEthernet2.0 is up, line protocol is up", None, False, False),
    ("  Internet address is 10.0.0.1/24", None, False, False),
    ("% terminal -- Invalid command.", None, False, False),
    ("router(config)% ", None, False, True),
    ("router(foo)# ", None, True, True),
    ("router(config-)# ", None, True, True),
    ("", None, False, False),
]


@pytest.mark.parametrize(("line", "expected", "oxidized", "strict"), PROMPTS)
def test_classify_prompt(
    line: str, expected: tuple[Mode, str, str | None] | None, oxidized: bool, strict: bool
) -> None:
    assert dialect.classify_prompt(line) == expected
    bare = line.rstrip("\r\n")
    assert bool(OXIDIZED_PROMPT_RE.match(bare)) is oxidized
    assert bool(STRICT_PROMPT_RE.match(bare)) is strict
    # Whatever we accept, the stricter public regex accepts too.
    if expected is not None:
        assert STRICT_PROMPT_RE.match(bare)


@pytest.mark.parametrize(
    ("current", "target", "steps"),
    [
        (Mode.OPERATION, Mode.CONFIG, ("enable-config",)),
        (Mode.CONFIG, Mode.OPERATION, ("exit",)),
        (Mode.CONFIG_SUB, Mode.CONFIG, ("configure",)),
        (Mode.CONFIG_SUB, Mode.OPERATION, ("configure", "exit")),
        (Mode.CONFIG, Mode.CONFIG, ()),
    ],
)
def test_mode_change(current: Mode, target: Mode, steps: tuple[str, ...]) -> None:
    got = dialect.mode_change(current, target)
    assert tuple(c.text for c in got) == steps
    assert all(dialect.is_read_command(c.text) for c in got)


def test_monitor_user_cannot_enter_config() -> None:
    with pytest.raises(RouterError, match="administrator"):
        dialect.mode_change(Mode.MONITOR, Mode.CONFIG)


@pytest.mark.parametrize(
    ("output", "error"),
    [
        ("% terminal -- Invalid command.", "% terminal -- Invalid command."),
        ("router# show foo\r\n% foo -- Invalid command.\r\nrouter# ", "% foo -- Invalid command."),
        ("% sh -- Ambiguous command.\n", "% sh -- Ambiguous command."),
        ("% Expects a subcommand or item selection.", "% Expects a subcommand or item selection."),
        (
            "% CONFIG process is occupied.\nUse svintr-config to take it over.",
            "% CONFIG process is occupied.",
        ),
        ("?Invalid command\nrouter% ", "?Invalid command"),
        # An unknown `%` line is treated as a refusal rather than passing as success.
        ("% Invalid IP address.", "% Invalid IP address."),
        # Informational lines are not errors.
        (
            "Building configuration...\n% Warning: do NOT enter CNTL/Z while saving to avoid "
            "config corruption.\nrouter(config)# ",
            None,
        ),
        ("% User 'admin2' has been added.", None),
        ("% You must restart the router for this configuration to take effect.", None),
        ('Copying from "running-config" to "startup-config"', None),
        ("% Warning: current running-configuration is not saved yet.", None),
        ("% No IKEv2 SA.", None),
        ("", None),
        # An error after informational lines is still found.
        ("Building configuration...\n% bogus -- Invalid command.", "% bogus -- Invalid command."),
    ],
)
def test_find_error(output: str, error: str | None) -> None:
    assert dialect.find_error(output) == error


def test_is_config_locked() -> None:
    assert dialect.is_config_locked("router# enable-config\r\n% CONFIG process is occupied.\r\n")
    assert not dialect.is_config_locked("router(config)# ")
    assert not dialect.is_config_locked("% terminal -- Invalid command.")


def test_reload_dialogue() -> None:
    dialogue = (
        "router(config)# reload\n"
        "% Warning: current running-configuration is not saved yet.\n"
        "Notice: The router will be RELOADED. This is to ensure that\n"
        "        the peripheral devices are properly initialized.\n"
        "Are you sure you want to reload the router? (Yes or [No]): "
    )
    assert dialect.RELOAD_QUESTION_RE.search(dialogue)
    assert dialect.reload_warns_unsaved(dialogue)
    saved = dialogue.replace("% Warning: current running-configuration is not saved yet.\n", "")
    assert not dialect.reload_warns_unsaved(saved)
    assert dialect.find_error(dialogue) is None


def test_clean_output_strips_paging_prompts_and_crlf() -> None:
    text = (
        "router# show x\r\nline 1\r\n--More--\x08\x08\x08\x08\x08\x08\x08\x08line 2\r\n\r\nrouter# "
    )
    assert dialect.clean_output(text) == ["line 1", "line 2"]


@pytest.mark.parametrize(
    "name",
    [
        "GigaEthernet0.1",
        "GigaEthernet2.0",
        "Tunnel1.0",
        "Loopback0.0",
        "BVI0",
        "FastEthernet0/0.1",
        # Seen in real IX configs; one pattern for config, dialect and lab (nmops.names).
        "BRI0.0",
        "USB-Serial0.0",
        "FastEthernet1/0:2.0",
        "GigaEthernet2:1.0",
        "Null0.0",
    ],
)
def test_valid_interface_names(name: str) -> None:
    assert dialect.validate_interface_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "GigaEthernet0.1\n",
        "GigaEthernet0.1\nwrite memory",
        "Giga Ethernet0.1",
        "GigaEthernet0.1\r",
        "Tunnel1.0;reload",
        "Tunnel\x001.0",
        "-GigaEthernet0.1",
        "GigaEthernet\uff10.1",  # full-width digit zero
        "G" * 65,
    ],
)
def test_unsafe_interface_names(name: str) -> None:
    with pytest.raises(UnsafeArgument):
        dialect.validate_interface_name(name)


def test_unsafe_argument_is_a_router_error() -> None:
    assert issubclass(UnsafeArgument, RouterError)


@pytest.mark.parametrize(
    "line", ["nm ddns notify interface GigaEthernet2.0 protocol ipv6", "ip address 10.0.0.1/24"]
)
def test_valid_config_lines(line: str) -> None:
    assert dialect.validate_config_line(line) == line


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "no shutdown\nreload",
        "no shutdown\r",
        " no shutdown",
        "no shutdown ",
        "description a\tb",
        "description why?",
        "description \x1b[2J",
        "description caf\u00e9",
        "x" * 513,
    ],
)
def test_unsafe_config_lines(line: str) -> None:
    with pytest.raises(UnsafeArgument):
        dialect.validate_config_line(line)


def test_unsafe_config_line_message_hides_the_line() -> None:
    with pytest.raises(UnsafeArgument) as info:
        dialect.validate_config_line("nm account g password plain s3cret\n")
    assert "s3cret" not in str(info.value)


def test_read_command_formats_after_validation() -> None:
    assert dialect.read_command("show_version") == ReadCommand("show version")
    assert (
        dialect.read_command("show_ipv6_interface", ifname="GigaEthernet2.0").text
        == "show ipv6 interface GigaEthernet2.0"
    )
    with pytest.raises(UnsafeArgument):
        dialect.read_command("show_ip_interface", ifname="GigaEthernet2.0\nreload")
    with pytest.raises(ValueError, match="takes"):
        dialect.read_command("show_ip_interface")
    with pytest.raises(ValueError, match="takes"):
        dialect.read_command("show_version", ifname="GigaEthernet2.0")
    with pytest.raises(ValueError, match="unknown"):
        dialect.read_command("write_memory")  # a change command is not a read command


@pytest.mark.parametrize(
    ("model", "startup", "nm"),
    [
        ("IX2215", "show config", "show nm information"),
        ("IX3110", "show config", "show nm information"),
        ("IX-R2530", "show startup-config", "show nm status"),
        ("IX-V", "show startup-config", "show nm status"),
    ],
)
def test_family_commands(model: str, startup: str, nm: str) -> None:
    assert dialect.startup_config_command(model).text == startup
    assert dialect.nm_status_command(model).text == nm


def test_command_tables_match_the_cli() -> None:
    read = {
        "enter_config": "enable-config",
        "terminal_length": "terminal length 0",
        "terminal_width": "terminal width 512",
        "show_running": "show running-config",
        "show_ikev2_sa": "show ikev2 sa",
    }
    change = {
        "takeover_config": "svintr-config",
        "write_memory": "write memory",
        "reload_confirm": "yes",
    }
    assert {key: dialect.READ_COMMANDS[key] for key in read} == read
    assert {key: dialect.CHANGE_COMMANDS[key] for key in change} == change
    # Nothing that changes the router, or takes config mode over, is a read command.
    assert not set(dialect.READ_COMMANDS.values()) & set(dialect.CHANGE_COMMANDS.values())


# Every control character (and DEL, and `?`): the line editor would act on it.
CONTROLS = [chr(c) for c in range(0x20)] + ["\x7f", "?"]
SHOWS = ["show version", "show running-config", "show ip interface GigaEthernet0.1"]


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"0x{ord(c):02x}")
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_no_control_character_makes_a_read_command(char: str, where: str) -> None:
    for show in SHOWS:
        cut = len(show) // 2
        text = {"start": char + show, "middle": show[:cut] + char + show[cut:], "end": show + char}[
            where
        ]
        assert not dialect.is_read_command(text)
        with pytest.raises(UnsafeArgument):
            dialect.validate_config_line(text)
    with pytest.raises(UnsafeArgument):
        dialect.read_command("show_ip_interface", ifname=f"GigaEthernet0.1{char}")


@pytest.mark.parametrize(
    "text",
    [
        "show version",
        "show ip interface GigaEthernet0.1",
        "show ipv6 interface GigaEthernet2:1.0",
        "terminal length 0",
        "exit",
    ],
)
def test_read_commands_are_exact(text: str) -> None:
    assert dialect.is_read_command(text)


@pytest.mark.parametrize(
    "text",
    [
        # `show ` followed by anything is not enough.
        "show version\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08write memory",
        "show running-config | write memory",
        "show ip interface GigaEthernet0.1 extra",
        "show ip interface Gig;reload",
        "show frobnicate",
        "show",
        "svintr-config",
        "write memory",
        "reload",
        "yes",
        "configure terminal",
        "terminal length 24",
        " show version",
        "show  version",
    ],
)
def test_anything_else_is_not_a_read_command(text: str) -> None:
    assert not dialect.is_read_command(text)
