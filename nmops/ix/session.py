"""One CLI session with an IX router over SSH (the I/O edge of the driver).

What to send and how to read the answer comes from :mod:`nmops.ix.dialect`; this module only
writes lines, reads until a prompt, pages through ``--More--`` and keeps track of the mode.
A read-only session (every dry run) raises before sending anything that changes the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import asyncssh
import tenacity

from nmops.errors import RouterError
from nmops.ix import dialect
from nmops.ix.dialect import COMMANDS, Mode
from nmops.ix.hostkeys import ENCRYPTION_ALGS, HOST_KEY_ALGS, KnownHosts
from nmops.ix.masking import mask_like, mask_line, mask_text
from nmops.ix.parsers import VersionInfo, parse_version

log = logging.getLogger(__name__)


class SessionLost(RouterError):
    """The router closed the session (reload, crash, network) in the middle of something."""


class ConfigLocked(RouterError):
    """Another session holds config mode."""


class ReadOnlyViolation(RouterError):
    """A read-only session was asked to send something that changes the router."""


@dataclass(frozen=True)
class Target:
    """Where and as whom to log in (the password is read from its reference by the caller)."""

    router: str
    host: str
    port: int
    username: str
    password: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def __repr__(self) -> str:  # never show the password
        return f"Target({self.router}@{self.where} as {self.username})"


@dataclass(frozen=True)
class ApplyResult:
    applied: tuple[str, ...]
    failed_line: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed_line is None


class IxSession:
    def __init__(
        self,
        target: Target,
        conn: asyncssh.SSHClientConnection,
        stdin: asyncssh.SSHWriter[str],
        stdout: asyncssh.SSHReader[str],
        *,
        read_only: bool,
        command_timeout: float,
        transcript: Path | None = None,
    ) -> None:
        self.target = target
        self.transcript = transcript
        self._transcript_file: TextIO | None = None
        self.read_only = read_only
        self.command_timeout = command_timeout
        self.mode: Mode | None = None
        self.hostname: str | None = None
        self._conn = conn
        self._stdin = stdin
        self._stdout = stdout
        self._log = logging.LoggerAdapter(log, {"router": target.router})
        self._terminal_ready = False

    # --- connecting --------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        target: Target,
        known_hosts: KnownHosts,
        *,
        read_only: bool = True,
        connect_timeout: float = 10.0,
        command_timeout: float = 30.0,
        transcript: Path | None = None,
    ) -> IxSession:
        """Log in on one management path. ``transcript``: a file that gets every command and
        its output (secrets masked)."""
        trusted = known_hosts.trusted_for(target.host, target.port)  # raises RouterError
        try:
            conn = await asyncssh.connect(
                target.host,
                target.port,
                username=target.username,
                password=target.password,
                known_hosts=trusted,
                server_host_key_algs=HOST_KEY_ALGS,
                encryption_algs=ENCRYPTION_ALGS,
                client_keys=None,
                agent_path=None,
                config=None,
                preferred_auth="password,keyboard-interactive",
                connect_timeout=connect_timeout,
                login_timeout=connect_timeout,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise known_hosts.verify_failure(target.host, target.port, exc) from exc
        except asyncssh.PermissionDenied as exc:
            raise RouterError(f"{target.where}: login refused for {target.username}") from exc
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise RouterError(f"{target.where}: cannot connect: {reason}") from exc
        try:
            stdin, stdout, _ = await conn.open_session(term_type="vt100", term_size=(512, 24))
        except (OSError, asyncssh.Error) as exc:
            conn.close()
            raise RouterError(f"{target.where}: no shell: {exc}") from exc
        session = cls(
            target,
            conn,
            stdin,
            stdout,
            read_only=read_only,
            command_timeout=command_timeout,
            transcript=transcript,
        )
        try:
            session._record(f"-- login {target.username}@{target.where}")
            await session._read_until_prompt()
        except BaseException:
            conn.close()
            session._close_transcript()
            raise
        return session

    async def close(self) -> None:
        if self.mode in (Mode.CONFIG, Mode.CONFIG_SUB):
            # Leave config mode so the next session is not told it is occupied.
            with contextlib.suppress(RouterError):
                for step in dialect.mode_change(self.mode, Mode.OPERATION):
                    await self.send(step)
        self._conn.close()
        self._close_transcript()
        with contextlib.suppress(TimeoutError, OSError, asyncssh.Error):
            await asyncio.wait_for(self._conn.wait_closed(), 5)

    async def __aenter__(self) -> IxSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def in_mode(self, mode: Mode) -> bool:
        return self.mode is mode

    # --- talking -----------------------------------------------------------------------------

    async def _read_until_prompt(self, *, stop: re.Pattern[str] | None = None) -> str:
        buffer = ""
        while True:
            try:
                chunk = await asyncio.wait_for(self._stdout.read(65536), self.command_timeout)
            except TimeoutError:
                raise RouterError(
                    f"{self.target.where}: no prompt after {self.command_timeout:.0f} s"
                ) from None
            except (OSError, asyncssh.Error) as exc:
                raise SessionLost(f"{self.target.where}: session lost: {exc}") from exc
            if not chunk:
                raise SessionLost(f"{self.target.where}: the router closed the session")
            buffer += chunk
            tail = buffer.replace("\r", "")
            if tail.rstrip(" ").endswith(dialect.PAGING_MARKER):
                self._stdin.write(" ")  # next page
                continue
            if stop is not None and stop.search(tail):
                return buffer
            match = dialect.PROMPT_SEARCH_RE.search(tail)
            if match:
                classified = dialect.classify_prompt(match.group(0))
                if classified is not None:
                    self.mode, self.hostname, _ = classified
                return buffer

    async def send(self, command: str, *, stop: re.Pattern[str] | None = None) -> str:
        """Send one line and return what the router printed (echo and prompt removed)."""
        if "\n" in command or "\r" in command:
            raise dialect.UnsafeArgument("a command must be a single line")
        if self.read_only and not dialect.read_only_allows(command):
            raise ReadOnlyViolation(
                f"{self.target.router}: read-only session refused to send a change "
                f"({mask_line(command)!r}); this is a dry run"
            )
        return await self._exchange(command, stop=stop)

    async def _exchange(self, command: str, *, stop: re.Pattern[str] | None = None) -> str:
        debug = self._log.isEnabledFor(logging.DEBUG)
        if debug:
            self._log.debug("> %s", mask_line(command))
        self._record(f"> {mask_line(command)}")
        self._stdin.write(command + "\r")
        raw = await self._read_until_prompt(stop=stop)
        output = "\n".join(dialect.clean_output(_drop_echo(raw, command)))
        if debug:
            self._log.debug("< %s", mask_text(output))
        if output:
            self._record("\n".join(f"< {line}" for line in mask_text(output).split("\n")))
        return output

    def _close_transcript(self) -> None:
        if self._transcript_file is not None:
            self._transcript_file.close()
            self._transcript_file = None

    def _record(self, text: str) -> None:
        """Append to the per-router transcript, if one was asked for."""
        if self.transcript is None:
            return
        try:
            if self._transcript_file is None:
                self.transcript.parent.mkdir(parents=True, exist_ok=True)
                self._transcript_file = self.transcript.open("a", encoding="utf-8")
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
            self._transcript_file.write(f"{stamp} {text}\n")
        except OSError as exc:
            # A transcript is a record, not the job: warn once and go on without it.
            self._log.warning("cannot write transcript %s: %s", self.transcript, exc)
            self._close_transcript()
            self.transcript = None

    async def enter_config(self, *, takeover: bool = False, attempts: int = 5) -> None:
        """Config mode (where the IX allows `show` commands); waits while another session
        holds it, and takes it over with `svintr-config` only when asked to."""
        if self.mode in (Mode.CONFIG, Mode.CONFIG_SUB):
            if self.mode is Mode.CONFIG_SUB:
                await self.send(COMMANDS["top_config"])
            return
        if self.mode is Mode.MONITOR:
            raise RouterError(f"{self.target.router}: logged in as a monitor-level user")

        async def once() -> None:
            output = await self.send(COMMANDS["enter_config"])
            if dialect.is_config_locked(output) or not self.in_mode(Mode.CONFIG):
                raise ConfigLocked(f"{self.target.router}: config mode is occupied")

        try:
            async for attempt in tenacity.AsyncRetrying(
                retry=tenacity.retry_if_exception_type(ConfigLocked),
                stop=tenacity.stop_after_attempt(attempts),
                wait=tenacity.wait_exponential(multiplier=0.2, max=5),
                reraise=True,
            ):
                with attempt:
                    await once()
        except ConfigLocked:
            if not takeover:
                raise ConfigLocked(
                    f"{self.target.router}: config mode is occupied by another session; "
                    "retry later, or set ssh.takeover: true to take it over (svintr-config)"
                ) from None
            self._log.warning("taking config mode over with svintr-config")
            # Allowed in a read-only session too, when asked for: it changes who holds config
            # mode, never the config.
            await self._exchange(COMMANDS["takeover_config"])
            if not self.in_mode(Mode.CONFIG):
                raise ConfigLocked(
                    f"{self.target.router}: svintr-config did not take over"
                ) from None
        if not self._terminal_ready:
            await self.send(COMMANDS["terminal_length"])
            await self.send(COMMANDS["terminal_width"])
            self._terminal_ready = True

    async def show(self, command: str, *, takeover: bool = False) -> str:
        """Run a `show` command in config mode and return its output; a router error raises."""
        if not dialect.is_show(command):
            raise ValueError(f"not a show command: {command!r}")
        await self.enter_config(takeover=takeover)
        output = await self.send(command)
        error = dialect.find_error(output)
        if error is not None and self.in_mode(Mode.OPERATION):
            # Someone took config mode over (svintr-config) and the router put us back in
            # operation mode, where this show does not exist: enter config again, once.
            await self.enter_config(takeover=takeover)
            output = await self.send(command)
            error = dialect.find_error(output)
        if error is not None:
            raise RouterError(f"{self.target.router}: {command!r}: {error}")
        return output

    async def apply(self, lines: list[str], *, takeover: bool = False) -> ApplyResult:
        """Apply config lines one at a time; stop at the first one the router rejects."""
        checked = [dialect.validate_config_line(line) for line in lines]
        if self.read_only:
            raise ReadOnlyViolation(f"{self.target.router}: read-only session cannot apply")
        await self.enter_config(takeover=takeover)
        applied: list[str] = []
        for line in checked:
            output = await self.send(line)
            error = dialect.find_error(output)
            if error is not None:
                # The router repeats the offending word, which may be the secret itself.
                error = mask_like(error, line)
                self._log.warning("rejected: %s: %s", mask_line(line), error)
                return ApplyResult(tuple(applied), line, error)
            applied.append(line)
            self._log.info("applied: %s", mask_line(line))
        return ApplyResult(tuple(applied))

    async def save(self) -> None:
        if self.read_only:
            raise ReadOnlyViolation(f"{self.target.router}: read-only session cannot save")
        await self.enter_config()
        output = await self.send(COMMANDS["write_memory"])
        error = dialect.find_error(output)
        if error is not None:
            raise RouterError(f"{self.target.router}: write memory failed: {error}")
        self._log.info("saved (write memory)")

    async def reload(self, *, force: bool = False) -> None:
        """Ask for a reload and answer its question; the router drops the session.

        When the router warns that the running config is not saved, the answer is No and this
        raises, unless ``force``: a reload would silently return to the startup config.
        """
        if self.read_only:
            raise ReadOnlyViolation(f"{self.target.router}: read-only session cannot reload")
        await self.enter_config()
        output = await self.send(COMMANDS["reload"], stop=dialect.RELOAD_QUESTION_RE)
        if dialect.RELOAD_QUESTION_RE.search(output.replace("\r", "")) is None:
            error = dialect.find_error(output) or "no confirmation question"
            raise RouterError(f"{self.target.router}: reload refused: {error}")
        if dialect.reload_warns_unsaved(output) and not force:
            await self._exchange(COMMANDS["reload_decline"])
            raise RouterError(
                f"{self.target.router}: not reloading: the running config is not saved and "
                "a reload would revert it (save it, or reload with force)"
            )
        self._log.warning("reloading")
        self._stdin.write(COMMANDS["reload_confirm"] + "\r")
        with contextlib.suppress(SessionLost):  # expected: the router goes away
            await self._read_until_prompt()
        self.mode = None
        self._conn.close()
        self._close_transcript()


def _drop_echo(raw: str, command: str) -> str:
    """The router echoes what we typed after the prompt we already consumed; drop that echo
    (wrapped over several lines when it was longer than the terminal width)."""
    text = raw.replace("\r\n", "\n").replace("\r", "")
    echoed = ""
    pos = 0
    while pos < len(text) and len(echoed) < len(command):
        end = text.find("\n", pos)
        if end < 0:
            break
        echoed += text[pos:end]
        pos = end + 1
    if echoed.strip() == command.strip():
        return text[pos:]
    return text


async def wait_for_return(
    target: Target,
    known_hosts: KnownHosts,
    *,
    timeout: float,
    interval: float = 2.0,
    connect_timeout: float = 10.0,
) -> VersionInfo:
    """After a reload: poll until the router answers again, then read `show version`."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            async with await IxSession.open(
                target, known_hosts, read_only=True, connect_timeout=connect_timeout
            ) as session:
                return parse_version(await session.send(COMMANDS["show_version"]))
        except RouterError as exc:
            last = exc
            await asyncio.sleep(interval)
    raise RouterError(f"{target.router}: did not come back within {timeout:.0f} s ({last})")
