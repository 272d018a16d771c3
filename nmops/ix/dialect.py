"""The NEC IX command-line dialect as data: prompts, modes, commands, error and info lines.

Everything the driver and the parsers need to know about how the IX talks lives here, so a
firmware that words something differently is a one-line change. Pure: no I/O.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from nmops.errors import RouterError
from nmops.ix import formats
from nmops.names import is_interface


class UnsafeArgument(RouterError):
    """A value was refused before being put into a router command."""


class Mode(enum.Enum):
    """Where a session sits, as told by its prompt."""

    OPERATION = "operation"  # administrator, `HOST# `
    MONITOR = "monitor"  # monitor-level user, `HOST% `
    CONFIG = "config"  # `HOST(config)# `
    CONFIG_SUB = "config-sub"  # `HOST(config-GigaEthernet2.0)# ` and other blocks


# --- prompts ---------------------------------------------------------------------------------

_HOST = r"[A-Za-z0-9._-]+"
PROMPT_RE = re.compile(rf"^(?P<host>{_HOST})(?:\((?P<inner>[^)]*)\))?(?P<term>[#%]) ?$")
# A prompt followed by the echo of what was typed at it.
ECHO_RE = re.compile(rf"^{_HOST}(?:\([^)]*\))?[#%] \S.*$")


def is_hostname(name: str) -> bool:
    """A hostname a prompt can carry and the driver follow."""
    return re.fullmatch(_HOST, name) is not None and len(name) <= 63


def classify_prompt(line: str) -> tuple[Mode, str, str | None] | None:
    """``(mode, hostname, submode)`` for a prompt line, or None when it is not an IX prompt."""
    match = PROMPT_RE.match(line.strip("\r\n"))
    if match is None:
        return None
    host, inner, term = match["host"], match["inner"], match["term"]
    if inner is None:
        return (Mode.MONITOR if term == "%" else Mode.OPERATION), host, None
    # A monitor user never reaches config mode, so `(config)%` is not a prompt we know.
    if term != "#":
        return None
    if inner == "config":
        return Mode.CONFIG, host, None
    if inner.startswith("config-") and len(inner) > len("config-"):
        return Mode.CONFIG_SUB, host, inner[len("config-") :]
    return None


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadCommand:
    """A command that cannot change the router: reading, and the mode and terminal commands
    reading needs. Build it with :func:`read_command`; a read-only session sends nothing else
    (and checks again, on the text, that it is one of these)."""

    text: str

    def __str__(self) -> str:
        return self.text


# What a read-only session may send, exactly. `svintr-config` is not here: it throws another
# administrator out of config mode, which is a change session's decision.
READ_COMMANDS: Mapping[str, str] = MappingProxyType(
    {
        "enter_config": "enable-config",
        "top_config": "configure",
        "exit": "exit",
        "terminal_length": "terminal length 0",  # config mode only [code]
        "terminal_width": "terminal width 512",
        "show_running": "show running-config",
        "show_startup": "show config",  # IX2000/IX3000
        "show_startup_ixr": "show startup-config",  # IX-R/IX-V
        "show_version": "show version",
        "show_ip_interface": "show ip interface {ifname}",
        "show_ipv6_interface": "show ipv6 interface {ifname}",
        "show_nm": "show nm information",  # IX2000/IX3000
        "show_nm_ixr": "show nm status",  # IX-R/IX-V
        "show_ikev2_sa": "show ikev2 sa",
    }
)

# What only a change session sends (besides config lines, which are validated one by one).
CHANGE_COMMANDS: Mapping[str, str] = MappingProxyType(
    {
        "takeover_config": "svintr-config",  # kicks another admin out of config: on request
        "write_memory": "write memory",
        "reload": "reload",
        "reload_confirm": "yes",
        "reload_decline": "no",
    }
)


def _argument_validators() -> Mapping[str, Callable[[str], str]]:
    return MappingProxyType({"ifname": validate_interface_name})


def _template_fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def read_command(name: str, **args: str) -> ReadCommand:
    """The read command ``name`` formatted from validated arguments."""
    try:
        template = READ_COMMANDS[name]
    except KeyError:
        raise ValueError(f"unknown IX read command {name!r}") from None
    fields = _template_fields(template)
    if set(args) != fields:
        raise ValueError(f"command {name!r} takes {sorted(fields)}, got {sorted(args)}")
    validators = _argument_validators()
    text = template.format(**{key: validators[key](value) for key, value in args.items()})
    return ReadCommand(validate_config_line(text))


def _read_patterns() -> tuple[re.Pattern[str], ...]:
    patterns = []
    for template in READ_COMMANDS.values():
        regex = re.escape(template)
        for name in _template_fields(template):
            regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>\\S+)")
        patterns.append(re.compile(regex))
    return tuple(patterns)


_READ_PATTERNS = _read_patterns()


def is_read_command(text: str) -> bool:
    """True only for the exact text :func:`read_command` can build (arguments valid)."""
    validators = _argument_validators()
    for pattern in _READ_PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        try:
            for name, value in match.groupdict().items():
                validators[name](value)
            validate_config_line(text)
        except UnsafeArgument:
            return False
        return True
    return False


def is_ixr_family(model: str) -> bool:
    """True for IX-R/IX-V models, whose show commands differ from IX2000/IX3000."""
    return model.upper().replace("-", "").startswith(("IXR", "IXV"))


def startup_config_command(model: str) -> ReadCommand:
    return read_command("show_startup_ixr" if is_ixr_family(model) else "show_startup")


def nm_status_command(model: str) -> ReadCommand:
    return read_command("show_nm_ixr" if is_ixr_family(model) else "show_nm")


def mode_change(current: Mode, target: Mode) -> tuple[ReadCommand, ...]:
    """The commands that move a session from ``current`` to ``target`` (CONFIG_SUB -> CONFIG
    goes to the top level; CONFIG_SUB as a target is entered by a block header, not here)."""
    if current is target:
        return ()
    if Mode.MONITOR in (current, target):
        raise RouterError("a monitor-level user cannot change mode; log in as an administrator")
    if target is Mode.CONFIG_SUB:
        raise ValueError("enter a config sub-mode with its block header line")
    steps: dict[tuple[Mode, Mode], tuple[str, ...]] = {
        (Mode.OPERATION, Mode.CONFIG): ("enter_config",),
        (Mode.CONFIG, Mode.OPERATION): ("exit",),
        (Mode.CONFIG_SUB, Mode.CONFIG): ("top_config",),
        (Mode.CONFIG_SUB, Mode.OPERATION): ("top_config", "exit"),
    }
    return tuple(read_command(name) for name in steps[current, target])


# --- argument validation ---------------------------------------------------------------------

MAX_LINE = 512  # the widest `terminal width` the IX accepts


def validate_interface_name(name: str) -> str:
    """Return ``name`` if it can safely follow a command, else raise UnsafeArgument."""
    if type(name) is not str or not is_interface(name):
        raise UnsafeArgument(
            f"interface name {name!r:.80} refused: use an IX name such as GigaEthernet2.0"
        )
    return name


def validate_config_line(line: str) -> str:
    """Return ``line`` if it is one clean line to type, else raise UnsafeArgument.

    Every command a session writes passes here. The message never repeats the line: config
    lines can carry passwords.
    """
    # Exactly str: a subclass could answer these checks one way and be written another.
    if type(line) is not str:
        raise UnsafeArgument(f"config line refused: a {type(line).__name__}, not a str")
    if not line.strip():
        raise UnsafeArgument("config line refused: it is empty")
    if len(line) > MAX_LINE:
        raise UnsafeArgument(f"config line refused: longer than {MAX_LINE} characters")
    if line != line.strip():
        raise UnsafeArgument("config line refused: strip leading/trailing whitespace first")
    for pos, char in enumerate(line):
        # Only printable ASCII: a CR/LF would send a second command, a backspace or Ctrl-U
        # would edit the line into another one, Ctrl-C/Ctrl-Z would leave the mode, and TAB
        # or `?` would trigger completion or help instead of being entered.
        if not " " <= char <= "~" or char == "?":
            raise UnsafeArgument(
                f"config line refused: character {pos + 1} is not printable ASCII or is `?`"
            )
    return line


# --- output lines ----------------------------------------------------------------------------

ERROR_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^% .+ -- Invalid command\.?$"),
    re.compile(r"^% .+ -- Ambiguous command\.?$"),
    re.compile(r"^% Expects a subcommand or item selection\.?$"),
    re.compile(r"^% CONFIG process is occupied\.?$"),
    re.compile(r"^\?Invalid command"),  # monitor-level users
)
CONFIG_LOCKED_RE = re.compile(r"^% CONFIG process is occupied", re.MULTILINE)

INFO_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^% Warning: "),  # save warning, unsaved-config warning before reload
    re.compile(r"^Building configuration\.\.\."),
    re.compile(r"^% User '[^']*' has been added\."),
    re.compile(r"^% You must restart the router for this configuration to take effect\."),
    re.compile(r'^Copying from "running-config" to "startup-config"'),
    re.compile("^" + re.escape(formats.NO_IKEV2_SA.rstrip(".")) + r"\.?$"),  # [?]
)

PAGING_MARKER = "--More--"
# The marker and the backspaces/spaces some firmware prints to erase it.
# Only the erase sequence: the spaces that follow it may be the next line's indent.
_PAGING_RE = re.compile(r"--More--(?:\x08+ +\x08+|\x08+|\r +\r)?")

RELOAD_UNSAVED_RE = re.compile(r"^% Warning: current running-configuration is not saved yet\.")
RELOAD_QUESTION_RE = re.compile(
    r"Are you sure you want to reload the router\? \(Yes or \[No\]\):\s*$"
)

# `show version` after a restart: `System woke up by reload, caused by command execution`.
RELOAD_CAUSE_RE = re.compile(r"^System woke up by (?P<event>[^,]+), caused by (?P<cause>.+?)\s*$")


# Terminal escape sequences (colour, cursor movement) and NULs: no IX is known to print them,
# and none is ever part of a config line or an answer.
_CONTROLS_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|\x00")


def strip_controls(text: str) -> str:
    return _CONTROLS_RE.sub("", text)


def clean_output(text: str) -> list[str]:
    """Output lines without CRs, paging markers, escape sequences, prompts, command echoes or
    trailing blanks."""
    text = _PAGING_RE.sub("", text.replace("\r\n", "\n")).replace("\r", "\n")
    text = strip_controls(text)
    lines = [
        line.rstrip()
        for line in text.split("\n")
        if classify_prompt(line) is None and ECHO_RE.match(line) is None
    ]
    while lines and not lines[-1]:
        lines.pop()
    return lines


RESTART_NOTICE_RE = re.compile(r"^% You must restart the router\b")


def is_restart_notice(line: str) -> bool:
    """The line some changes print: they take effect only after a reload [C]."""
    return RESTART_NOTICE_RE.match(line.strip()) is not None


def is_info_line(line: str) -> bool:
    return any(pattern.match(line.strip()) for pattern in INFO_PATTERNS)


def is_error_line(line: str) -> bool:
    """True for a known error, and for any other `%` line that is not known to be harmless:
    a refusal worded in a way we have not seen must not pass as success."""
    stripped = line.strip()
    if any(pattern.match(stripped) for pattern in ERROR_PATTERNS):
        return True
    return stripped.startswith("%") and not is_info_line(stripped)


def find_error(output: str) -> str | None:
    """The first error line the router printed, or None."""
    for line in clean_output(output):
        if is_error_line(line):
            return line.strip()
    return None


def find_show_error(output: str) -> str | None:
    """The error a `show` answered with: a known refusal anywhere, or an unknown `%` line as
    its first line. A `%` line further down is part of what was shown (a config, a log), not
    a refusal, and must not cost the router its facts."""
    lines = [line.strip() for line in clean_output(output) if line.strip()]
    for line in lines:
        if any(pattern.match(line) for pattern in ERROR_PATTERNS):
            return line
    if lines and lines[0].startswith("%") and not is_info_line(lines[0]):
        return lines[0]
    return None


def is_config_locked(output: str) -> bool:
    """True when another session holds config mode (`svintr-config` would take it over)."""
    return CONFIG_LOCKED_RE.search(output.replace("\r", "")) is not None


def reload_warns_unsaved(output: str) -> bool:
    """True when the reload dialogue warned that the running config is not saved."""
    return any(RELOAD_UNSAVED_RE.match(line.strip()) for line in clean_output(output))
