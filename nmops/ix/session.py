"""CLI sessions with an IX router over SSH (the I/O edge of the driver).

Two types, so that safety does not hang on a flag:

- :class:`ReadSession` (every dry run, every ``check``) can send only the commands
  :mod:`nmops.ix.dialect` builds as :class:`~nmops.ix.dialect.ReadCommand`: shows formatted
  from validated arguments, and the mode and terminal commands. It has no ``apply``, ``save``
  or ``reload`` at all, so mypy rejects such a call before a test has to, and it never takes
  config mode over (``svintr-config``).
- :class:`ChangeSession` adds config lines (:class:`~nmops.ix.lines.Edit`), saving, reloading
  and, only when asked, taking config mode over.

Every line written is one line of printable ASCII (no `?`, no control characters). Each
command has one deadline for its whole answer; after a timeout or a lost connection the
session refuses to go on, since late output would be read as the next answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TextIO

import asyncssh
import tenacity

from nmops.errors import RouterError
from nmops.ix import dialect, lines
from nmops.ix.dialect import CHANGE_COMMANDS, Mode, ReadCommand, read_command
from nmops.ix.hostkeys import ENCRYPTION_ALGS, HOST_KEY_ALGS, KnownHosts
from nmops.ix.masking import mask_like, mask_line, mask_text
from nmops.ix.parsers import VersionInfo, parse_version, restarted

log = logging.getLogger(__name__)


class SessionLost(RouterError):
    """The session is gone (reload, crash, network) or unusable (after a timeout)."""


class CommandTimeout(SessionLost):
    """The router did not finish its answer within the command's deadline."""


class ConfigLocked(RouterError):
    """Another session holds config mode."""


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
    applied: tuple[lines.Edit, ...]
    failed: lines.Edit | None = None
    error: str | None = None  # the router's words (secrets masked), or why nmops stopped
    taken_over: bool = False  # stopped because another session took config mode over
    notices: tuple[str, ...] = ()  # e.g. `% You must restart the router ...`

    @property
    def ok(self) -> bool:
        return self.failed is None


@dataclass(frozen=True)
class ReloadTicket:
    """What :func:`wait_for_return` needs to tell a restarted router from one still going
    down: its `show version` just before the reload, and when the reload was confirmed."""

    before: VersionInfo
    at: float  # time.monotonic() when `yes` was sent


class _RouterLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Puts the router's name in front of every message."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return f"{self.extra['router'] if self.extra else '?'}: {msg}", kwargs


_LONGEST_PROMPT = 200  # a hostname and a sub-mode name, with room to spare


class ReadSession:
    """A session that cannot change the router. Open with :meth:`open`."""

    def __init__(
        self,
        target: Target,
        conn: asyncssh.SSHClientConnection,
        stdin: asyncssh.SSHWriter[str],
        stdout: asyncssh.SSHReader[str],
        *,
        command_timeout: float,
        transcript: Path | None = None,
    ) -> None:
        self.target = target
        self.transcript = transcript
        self.command_timeout = command_timeout
        self.mode: Mode | None = None
        self.hostname: str | None = None  # learned from the first prompt
        self._conn = conn
        self._stdin = stdin
        self._stdout = stdout
        self._transcript_file: TextIO | None = None
        self._log = _RouterLog(log, {"router": target.router})
        self._terminal_ready = False
        self._broken: str | None = None  # why the session cannot be used any more
        self._expect_host: tuple[str, ...] = ()

    # --- connecting --------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        target: Target,
        known_hosts: KnownHosts,
        *,
        connect_timeout: float = 10.0,
        command_timeout: float = 30.0,
        transcript: Path | None = None,
    ) -> Self:
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
            # A stray non-UTF-8 byte in a router's output is shown as U+FFFD, not a lost
            # session.
            stdin, stdout, _ = await conn.open_session(
                term_type="vt100", term_size=(512, 24), errors="replace"
            )
        except (OSError, asyncssh.Error) as exc:
            conn.close()
            raise RouterError(f"{target.where}: no shell: {exc}") from exc
        session = cls(
            target,
            conn,
            stdin,
            stdout,
            command_timeout=command_timeout,
            transcript=transcript,
        )
        try:
            session._record(f"-- login {target.username}@{target.where}")
            await session._read_until_prompt()
        except BaseException:
            session._abort()
            raise
        return session

    async def close(self) -> None:
        """Leave config mode (so the next session is not told it is occupied) and log out.
        Never raises: a session that is already gone is closed."""
        try:
            if self._broken is None and self.mode in (Mode.CONFIG, Mode.CONFIG_SUB):
                for step in dialect.mode_change(self.mode, Mode.OPERATION):
                    await self._exchange(step.text)
        except Exception as exc:  # closing must go on whatever the router did
            self._log.debug("leaving config mode on close: %s", exc)
        self._abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._conn.wait_closed(), 5)

    def _abort(self) -> None:
        self._broken = self._broken or "closed"
        with contextlib.suppress(Exception):
            self._conn.close()
        self._close_transcript()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def in_mode(self, mode: Mode) -> bool:
        return self.mode is mode

    @property
    def usable(self) -> bool:
        return self._broken is None

    # --- talking -----------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        try:
            self._stdin.write(text)
        except (OSError, asyncssh.Error) as exc:  # BrokenPipeError after a drop
            self._broken = f"session lost: {exc or type(exc).__name__}"
            raise SessionLost(f"{self.target.where}: {self._broken}") from exc

    def _is_prompt(self, tail: str) -> bool:
        classified = dialect.classify_prompt(tail)
        if classified is None:
            return False
        # Once the hostname is known, only its prompts end an answer (a line of output that
        # happens to look like a prompt does not).
        wanted = self._expect_host or ((self.hostname,) if self.hostname else ())
        return not wanted or classified[1] in wanted

    async def _read_until_prompt(self, *, stop: re.Pattern[str] | None = None) -> str:
        """Everything up to the next prompt (or ``stop``), within one deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.command_timeout
        chunks: list[str] = []
        tail = ""  # the unfinished last line
        long_line = False
        while True:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                chunk = await asyncio.wait_for(self._stdout.read(65536), remaining)
            except TimeoutError:
                self._broken = f"no prompt within {self.command_timeout:g} s"
                raise CommandTimeout(f"{self.target.where}: {self._broken}") from None
            except (OSError, asyncssh.Error) as exc:
                self._broken = f"session lost: {exc}"
                raise SessionLost(f"{self.target.where}: {self._broken}") from exc
            if not chunk:
                self._broken = "the router closed the session"
                raise SessionLost(f"{self.target.where}: {self._broken}")
            chunks.append(chunk)
            # The unfinished last line, for prompt detection: CR alone ends a line too, escape
            # sequences do not count, and a line longer than any prompt can be is no prompt
            # (kept short, so a megabyte without a newline costs nothing per chunk).
            text = dialect.strip_controls(chunk.replace("\r\n", "\n").replace("\r", "\n"))
            newline = text.rfind("\n")
            tail = text[newline + 1 :] if newline >= 0 else tail + text
            if len(tail) > _LONGEST_PROMPT:
                tail = tail[-_LONGEST_PROMPT:]
                long_line = True
            elif newline >= 0:
                long_line = False
            if tail.rstrip(" ").endswith(dialect.PAGING_MARKER):
                self._write(" ")  # next page
                tail = ""
                continue
            if stop is not None:
                joined = "".join(chunks).replace("\r", "")
                if stop.search(joined):
                    return "".join(chunks)
            if not long_line and self._is_prompt(tail):
                classified = dialect.classify_prompt(tail)
                if classified is not None:
                    self.mode, self.hostname, _ = classified
                self._expect_host = ()
                return "".join(chunks)

    async def _exchange(self, command: str, *, stop: re.Pattern[str] | None = None) -> str:
        """Type one line and return what the router printed (echo and prompt removed)."""
        if self._broken is not None:
            raise SessionLost(f"{self.target.where}: session unusable ({self._broken})")
        dialect.validate_config_line(command)  # exactly a str, one printable line
        shown = mask_line(command)
        self._log.debug("> %s", shown)
        self._record(f"> {shown}")
        self._write(command + "\r")
        raw = await self._read_until_prompt(stop=stop)
        output = "\n".join(dialect.clean_output(_drop_echo(raw, command)))
        if output:
            masked = mask_text(output)
            self._log.debug("< %s", masked)
            self._record("\n".join(f"< {line}" for line in masked.split("\n")))
        return output

    async def send(self, command: ReadCommand) -> str:
        """Send one read command; nothing else passes (checked again on the text, read once:
        what is checked is what is written)."""
        text = command.text if type(command) is ReadCommand else None
        if type(text) is not str or not dialect.is_read_command(text):
            shown = mask_line(text if type(text) is str else repr(command))[:80]
            raise dialect.UnsafeArgument(
                f"{self.target.router}: a read-only session sends only the dialect's read "
                f"commands, not {shown!r}"
            )
        return await self._exchange(text)

    def _close_transcript(self) -> None:
        if self._transcript_file is not None:
            with contextlib.suppress(OSError):
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

    # --- config mode (where the IX answers most `show` commands) ------------------------------

    async def _enter(self, command: str) -> None:
        output = await self._exchange(command)
        if dialect.is_config_locked(output) or not self.in_mode(Mode.CONFIG):
            raise ConfigLocked(f"{self.target.router}: config mode is occupied")

    async def _enter_config_waiting(self, attempts: int) -> None:
        if self.mode is Mode.CONFIG_SUB:
            await self._exchange(read_command("top_config").text)
        if self.mode is Mode.CONFIG:
            return
        if self.mode is Mode.MONITOR:
            raise RouterError(f"{self.target.router}: logged in as a monitor-level user")
        async for attempt in tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(ConfigLocked),
            stop=tenacity.stop_after_attempt(attempts),
            wait=tenacity.wait_exponential(multiplier=0.2, max=5),
            reraise=True,
        ):
            with attempt:
                await self._enter(read_command("enter_config").text)

    async def _terminal(self) -> None:
        if not self._terminal_ready:
            await self._exchange(read_command("terminal_length").text)
            await self._exchange(read_command("terminal_width").text)
            self._terminal_ready = True

    async def enter_config(self, *, attempts: int = 5) -> None:
        """Config mode; waits while another session holds it and then gives up: a read-only
        session never takes config mode over from a person."""
        try:
            await self._enter_config_waiting(attempts)
        except ConfigLocked:
            raise ConfigLocked(
                f"{self.target.router}: config mode is occupied by another session; retry "
                "later (a read-only session never takes it over)"
            ) from None
        await self._terminal()

    async def show(self, command: ReadCommand) -> str:
        """Run a read command in config mode and return its output; a router error raises."""
        await self.enter_config()
        output = await self.send(command)
        error = dialect.find_show_error(output)
        if error is not None and self.in_mode(Mode.OPERATION):
            # Someone took config mode over (svintr-config) and the router put us back in
            # operation mode, where this show does not exist: enter config again, once.
            await self.enter_config()
            output = await self.send(command)
            error = dialect.find_show_error(output)
        if error is not None:
            raise RouterError(f"{self.target.router}: {command.text!r}: {error}")
        return output

    async def version(self) -> VersionInfo:
        return parse_version(await self.show(read_command("show_version")))


class ChangeSession(ReadSession):
    """A session that may change the router: config lines, save, reload, takeover."""

    async def enter_config(self, *, attempts: int = 5, takeover: bool = False) -> None:
        """Config mode; waits while another session holds it, and takes it over with
        `svintr-config` only when ``takeover`` is asked for."""
        try:
            await self._enter_config_waiting(attempts)
        except ConfigLocked:
            if not takeover:
                raise ConfigLocked(
                    f"{self.target.router}: config mode is occupied by another session; "
                    "retry later, or set ssh.takeover: true to take it over (svintr-config)"
                ) from None
            self._log.warning("taking config mode over with svintr-config")
            await self._enter(CHANGE_COMMANDS["takeover_config"])
        await self._terminal()

    async def apply(
        self,
        edits: Sequence[lines.Edit],
        *,
        takeover: bool = False,
        sending: Callable[[int], None] | None = None,
        sent: Callable[[int], None] | None = None,
    ) -> ApplyResult:
        """Type ``edits`` one at a time, each in its block; stop at the first one the router
        rejects, or as soon as config mode is lost to another session. ``sending(i)`` runs
        before edit ``i`` goes out and ``sent(i)`` once the router took it: the journal's
        write-ahead marks (if ``sending`` raises, nothing more is sent)."""
        for edit in edits:
            for text in (*edit.context, edit.line):
                dialect.validate_config_line(text)
            if edit.line.startswith("hostname ") and not dialect.is_hostname(edit.line[9:]):
                # The prompt would show a name the driver cannot follow: nmops would cut
                # itself off in the middle of the step.
                raise dialect.UnsafeArgument(
                    f"{self.target.router}: hostname {edit.line[9:]!r:.70} refused: letters, "
                    "digits and . _ - only"
                )
        await self.enter_config(takeover=takeover)
        applied: list[lines.Edit] = []
        notices: list[str] = []
        where: tuple[str, ...] = ()
        for index, edit in enumerate(edits):
            if sending is not None:
                sending(index)
            typed: list[str] = []
            if edit.context != where:
                if where:
                    typed.append(read_command("top_config").text)
                typed.extend(edit.context)
            typed.append(edit.line)
            for text in typed:
                if text.startswith("hostname "):
                    # The prompt changes with the name: either one ends this answer.
                    self._expect_host = (self.hostname or "", text.split(" ", 1)[1])
                output = await self._exchange(text)
                if not self.in_mode(Mode.CONFIG) and not self.in_mode(Mode.CONFIG_SUB):
                    self._log.warning("config mode was taken over before %s", mask_line(text))
                    return ApplyResult(
                        tuple(applied),
                        edit,
                        "config mode was taken over by another session (svintr-config)",
                        taken_over=True,
                        notices=tuple(notices),
                    )
                error = dialect.find_error(output)
                if error is not None:
                    # The router repeats the offending word, which may be the secret itself.
                    error = mask_like(error, text)
                    self._log.warning("rejected: %s: %s", mask_line(text), error)
                    return ApplyResult(tuple(applied), edit, error, notices=tuple(notices))
                notices += [
                    line.strip() for line in output.split("\n") if dialect.is_restart_notice(line)
                ]
            if self.in_mode(Mode.CONFIG):
                where = ()
            elif lines.opens_block(edit.line, lines.kind_at(edit.context)):
                where = (*edit.context, edit.line)  # a header typed as a line enters its block
            else:
                where = edit.context
            applied.append(edit)
            if sent is not None:
                sent(index)
            self._log.info("applied: %s", mask_line(str(edit)))
        return ApplyResult(tuple(applied), notices=tuple(notices))

    async def save(self) -> None:
        """`write memory`. Saving takes a moment on a real IX; the deadline is the command's."""
        await self.enter_config()
        output = await self._exchange(CHANGE_COMMANDS["write_memory"])
        error = dialect.find_error(output)
        if error is not None:
            raise RouterError(f"{self.target.router}: write memory failed: {error}")
        self._log.info("saved (write memory)")

    async def reload(self, *, force: bool = False) -> ReloadTicket:
        """Ask for a reload and answer its question; the router drops the session.

        When the router warns that the running config is not saved, the answer is No and this
        raises, unless ``force``: a reload would silently return to the startup config.
        Returns what :func:`wait_for_return` needs to see the router really restart.
        """
        before = await self.version()
        await self.enter_config()
        output = await self._exchange(CHANGE_COMMANDS["reload"], stop=dialect.RELOAD_QUESTION_RE)
        if dialect.RELOAD_QUESTION_RE.search(output.replace("\r", "")) is None:
            error = dialect.find_error(output) or "no confirmation question"
            raise RouterError(f"{self.target.router}: reload refused: {error}")
        if dialect.reload_warns_unsaved(output) and not force:
            await self._exchange(CHANGE_COMMANDS["reload_decline"])
            raise RouterError(
                f"{self.target.router}: not reloading: the running config is not saved and "
                "a reload would revert it (save it, or reload with force)"
            )
        self._log.info("reloading")
        confirm = CHANGE_COMMANDS["reload_confirm"]
        self._record(f"> {confirm}")
        at = time.monotonic()
        self._write(confirm + "\r")
        # The router goes away now, or keeps the connection open a while as it shuts down:
        # both are success. Whatever it prints, the session is over; a moment to see it go.
        with contextlib.suppress(SessionLost, TimeoutError, OSError, asyncssh.Error):
            await asyncio.wait_for(self._drain(), min(1.0, self.command_timeout))
        self._broken = "reloaded"
        self.mode = None
        self._abort()
        return ReloadTicket(before, at)

    async def _drain(self) -> None:
        while await self._stdout.read(65536):
            pass


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
    ticket: ReloadTicket,
    *,
    timeout: float,
    interval: float = 2.0,
    connect_timeout: float = 10.0,
    command_timeout: float = 30.0,
) -> VersionInfo:
    """After a reload: poll until the router answers *and* has really restarted (a router
    still shutting down may accept one more login with its old uptime)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            async with await ReadSession.open(
                target,
                known_hosts,
                connect_timeout=connect_timeout,
                command_timeout=command_timeout,
            ) as session:
                after = await session.version()
            if restarted(ticket.before, after, time.monotonic() - ticket.at):
                return after
            last = "it answered but has not restarted yet"
        except RouterError as exc:
            last = str(exc)
        await asyncio.sleep(interval)
    raise RouterError(f"{target.router}: did not come back within {timeout:g} s ({last})")
