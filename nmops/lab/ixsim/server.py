"""A simulated router's SSH server (asyncssh): password login, an interactive IX shell.

Like the real IX: the host key is offered as `ssh-rsa` only, only password authentication,
no exit status when a session ends. The server stops listening while the router is reloading
or has the `ssh-down` fault (clients see the connection refused) and listens again on the
same port when it is back.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import asyncssh

from nmops.lab.ixsim.audit import CommandLog
from nmops.lab.ixsim.cli import CliSession
from nmops.lab.ixsim.router import SimRouter
from nmops.lab.ixsim.terminal import Terminal, crlf

log = logging.getLogger(__name__)

_session_numbers = itertools.count(1)


async def load_host_key(path: Path, bits: int) -> asyncssh.SSHKey:
    """The router's RSA host key, created once and kept so restarts keep the fingerprint."""
    if path.exists():
        return asyncssh.read_private_key(path)
    # Key generation takes tens of milliseconds: off the loop, so hundreds can start at once.
    key = await asyncio.to_thread(asyncssh.generate_private_key, "ssh-rsa", key_size=bits)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    key.write_private_key(tmp)
    tmp.chmod(0o600)
    tmp.replace(path)
    return key


class RouterServer:
    def __init__(
        self,
        router: SimRouter,
        key: asyncssh.SSHKey,
        *,
        username: str,
        password: str,
        log_path: Path,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.router = router
        self.key = key
        self.host = host
        self.port = port
        self.log = CommandLog(log_path)
        self._username = username
        self._password = password
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        pair = asyncssh.load_keypairs([key])[0]
        pair.host_key_algorithms = (b"ssh-rsa",)  # as the IX: no rsa-sha2-*
        self._keypair = pair
        router.watchers.append(self._router_changed)

    @property
    def fingerprint(self) -> str:
        return self.key.get_fingerprint("sha256")

    @property
    def public_key(self) -> str:
        """The host key in OpenSSH `ssh-rsa AAAA...` form."""
        return self.key.export_public_key("openssh").decode().strip()

    async def start(self) -> None:
        await self._sync_listener()

    async def stop(self) -> None:
        self._stopping = True
        if self._router_changed in self.router.watchers:
            self.router.watchers.remove(self._router_changed)
        await self._sync_listener()
        for conn in list(self._connections):
            conn.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def check_password(self, username: str, password: str) -> bool:
        return hmac.compare_digest(username.encode(), self._username.encode()) and (
            hmac.compare_digest(password.encode(), self._password.encode())
        )

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _router_changed(self, router: SimRouter) -> None:
        self.spawn(self._sync_listener())

    async def _sync_listener(self) -> None:
        async with self._lock:
            want = self.router.reachable and not self._stopping
            if want and self._acceptor is None:
                self._acceptor = await asyncssh.create_server(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    server_host_keys=[self._keypair],
                    line_editor=False,  # the IX echoes and edits itself (see Terminal)
                    reuse_address=True,
                    kbdint_auth=False,
                    public_key_auth=False,
                )
                self.port = self._acceptor.get_port()
                log.debug("%s: SSH listening on %s:%d", self.router.name, self.host, self.port)
            elif not want and self._acceptor is not None:
                acceptor, self._acceptor = self._acceptor, None
                acceptor.close()
                await acceptor.wait_closed()
                log.debug("%s: SSH not listening", self.router.name)


class _Connection(asyncssh.SSHServer):
    def __init__(self, server: RouterServer) -> None:
        self._server = server
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._server._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._server._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        ok = self._server.check_password(username, password)
        if not ok:
            log.info("%s: login refused for %r", self._server.router.name, username)
        return ok

    def session_requested(self) -> asyncssh.SSHServerSession[str] | bool:
        router = self._server.router
        if self._conn is None or not router.reachable:
            return False
        if len(router.sessions) >= router.timings.max_sessions:
            log.info("%s: session refused: %d already open", router.name, len(router.sessions))
            return False
        return _Session(self._server, self._conn)


class _Session(asyncssh.SSHServerSession[str]):
    """One interactive shell: bytes in, echo and replies out, through a CliSession."""

    def __init__(self, server: RouterServer, conn: asyncssh.SSHServerConnection) -> None:
        self._server = server
        self._conn = conn
        self._chan: asyncssh.SSHServerChannel[str] | None = None
        self._number = next(_session_numbers)
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._terminal = Terminal()
        self._cli: CliSession | None = None
        self._closed = False
        # Output is gathered while a chunk of input is processed and sent in one write: one
        # SSH packet per keystroke echo would cost both ends a packet's crypto each.
        self._out: list[str] = []

    def connection_made(self, chan: asyncssh.SSHServerChannel[str]) -> None:
        self._chan = chan

    def pty_requested(
        self,
        term_type: str,
        term_size: tuple[int, int, int, int],
        term_modes: Mapping[int, int],
    ) -> bool:
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return False  # the IX offers a shell only

    def session_started(self) -> None:
        self._cli = CliSession(self._server.router, on_drop=self._drop)
        peer = self._conn.get_extra_info("peername")
        if not self._cli.accepted:
            self._server.log.event(self._number, f"refused {peer[0]}:{peer[1]}: too many sessions")
            self._drop()
            return
        self._server.log.event(self._number, f"login from {peer[0]}:{peer[1]}")
        self._write(self._cli.prompt())
        self._flush()
        self._server.spawn(self._run())

    def data_received(self, data: str, datatype: asyncssh.DataType) -> None:
        self._inbox.put_nowait(data)

    def eof_received(self) -> bool:
        self._inbox.put_nowait(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._inbox.put_nowait(None)
        if self._cli is not None:
            self._cli.close()
            self._server.log.event(self._number, "closed")

    def _write(self, text: str, *, echo: bool = False) -> None:
        if self._closed or self._chan is None or not text:
            return
        self._out.append(text)
        if not echo:  # the terminal counted the echo's columns itself
            self._terminal.wrote(text)

    def _flush(self) -> None:
        if self._out and not self._closed and self._chan is not None:
            self._chan.write("".join(self._out))
        self._out.clear()

    def _drop(self) -> None:
        """Close without an exit status, as the IX does (logout, reload)."""
        if self._closed:
            return
        self._flush()
        self._closed = True
        self._server.log.event(self._number, "dropped")
        if self._chan is not None:
            self._chan.close()
        self._conn.close()

    async def _run(self) -> None:
        try:
            while True:
                data = await self._inbox.get()
                if data is None or self._closed:
                    return
                for char in data:
                    if self._closed:
                        return
                    await self._key(char)
                self._flush()
        except Exception:
            # A bug in the simulator must show up in the log, not as a session that hangs.
            log.exception("%s: session %d failed", self._server.router.name, self._number)
            self._drop()

    async def _key(self, char: str) -> None:
        cli, term = self._cli, self._terminal
        assert cli is not None
        if term.paging:
            text, done = term.pager_key(char, cli.page_length)
            self._write(text)
            if done:
                self._write(cli.prompt())
            return
        key = term.key(char, cli.width)
        self._write(key.echo, echo=True)
        if key.control == "help":
            words = "  " + "  ".join(cli.help_words())
            self._write(crlf(f"?\n{words}\n") + term.retype(cli.prompt(), cli.width))
        elif key.control in ("ctrl-c", "ctrl-z"):
            if key.control == "ctrl-z":
                cli.ctrl_z()
            self._write("\r\n" + cli.prompt())
        if key.line is None:
            return
        self._write("\r\n")
        self._server.log.record(self._number, cli.prompt(), key.line)
        timings = self._server.router.timings
        delay = timings.reply_delay
        if "slow" in self._server.router.faults:
            delay += timings.slow_delay
        if delay:
            self._flush()
            await asyncio.sleep(delay)
        # A line the router has received is carried out even if the client has gone
        # meanwhile (killed, cut off), as a real IX does: only the answer is lost.
        reply = cli.execute(key.line)
        if reply.delay:
            self._flush()
            await asyncio.sleep(reply.delay)
            if self._closed:
                return
        self._write(term.page(reply.output, cli.page_length))
        if reply.close:
            self._drop()
            return
        if reply.reload:
            router = self._server.router
            if timings.reload_linger:
                # Still up a while: the session stays open, silent, and new logins work.
                self._flush()
                await asyncio.sleep(timings.reload_linger)
            router.reload()  # drops this session too
            return
        if not term.paging:
            self._write(cli.prompt())
