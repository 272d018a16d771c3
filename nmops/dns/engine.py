"""Asking one authoritative server many questions, fast and politely (the I/O edge).

One connected UDP socket per server carries every query, matched to its reply by ID and
question; a reply with TC set is asked again over TCP. Each server gets its own cap on queries
in flight and its own rate limit, since the zone's servers are a shared service. Retries after
a timeout back off exponentially (tenacity). Nothing is cached: every run asks afresh.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message
import tenacity

from nmops.dns.addresses import Server
from nmops.dns.wire import Reply, WireError, parse_reply, query_wire, reply_from_message, reply_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    timeout: float = 2.0
    retries: int = 2
    concurrency: int = 8
    rate: float = 50.0  # per second; 0 = no limit


@dataclass(frozen=True, slots=True)
class Question:
    fqdn: str
    rdtype: int
    wire: bytes  # from wire.question_wire


@dataclass(frozen=True, slots=True)
class Outcome:
    """A reply, or why there is none (``error`` is then a short text)."""

    reply: Reply | None
    error: str | None = None
    timed_out: bool = False


class _Timeout(Exception):
    pass


class _RateLimit:
    """Spaces sends ``1/rate`` seconds apart (a leaky bucket with no burst)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_slot = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class _UdpChannel:
    """Multiplexes queries over one connected UDP socket; replies are matched on ID and
    question.

    A raw non-blocking socket with a reader callback rather than an asyncio transport: the
    transport reads one datagram per event-loop turn, this drains every reply that has arrived,
    which doubles the rate a single core can sustain.
    """

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self.sock = sock
        self.loop = loop
        self.pending: dict[int, tuple[asyncio.Future[bytes], bytes]] = {}
        loop.add_reader(sock.fileno(), self._readable)

    @classmethod
    def open(cls, server: Server) -> _UdpChannel:
        family = socket.AF_INET6 if ":" in server.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            # Room for a burst of replies while the loop is busy elsewhere.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.connect((server.host, server.port))
            return cls(sock, asyncio.get_running_loop())
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def send(self, wire: bytes) -> None:
        for _ in range(2):
            try:
                self.sock.send(wire)
                return
            except (BlockingIOError, InterruptedError):
                return  # dropped like a lost packet: the timeout and retry handle it
            except ConnectionRefusedError:
                # An earlier ICMP port-unreachable surfaces here once; send again. If the
                # server is really down, the query times out like any other lost one.
                continue
            except OSError as exc:
                # Unreachable host or network now: lost like a dropped packet.
                log.debug("udp send to %s failed: %s", self.sock.getpeername(), exc)
                return

    def _readable(self) -> None:
        while True:
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # ICMP errors (port unreachable) say nothing about which query caused them;
                # the per-query timeout is what decides.
                log.debug("udp error from %s: %s", self.sock.getpeername(), exc)
                continue
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        try:
            entry = self.pending.get(reply_id(data))
        except WireError:
            return
        if entry is None:
            return  # late reply to a query that already timed out, or noise
        future, question = entry
        # The question must match too (name case-insensitively, type, class): an ID alone is
        # 16 bits of protection against a stray or forged packet.
        # (A reply with no question at all, as some servers send with FORMERR, is let through
        # to be reported as an error rather than waited for.)
        qlen = len(question) - 21
        has_question = data[4:6] != b"\x00\x00"
        if has_question and data[12 : 12 + qlen].lower() != question[10 : 10 + qlen].lower():
            return
        if not future.done():
            future.set_result(data)

    def free_id(self) -> int:
        while True:
            qid = random.getrandbits(16)
            if qid not in self.pending:
                return qid


class ServerClient:
    """Every question nmops asks one server goes through one of these."""

    def __init__(self, server: Server, limits: Limits) -> None:
        self.server = server
        self.limits = limits
        self._channel: _UdpChannel | None = None
        self._rate = _RateLimit(limits.rate)
        self.sent = 0

    async def __aenter__(self) -> ServerClient:
        self._channel = _UdpChannel.open(self.server)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    async def ask_all(self, questions: Sequence[Question]) -> list[Outcome]:
        """Ask every question, at most ``concurrency`` in flight; results in question order."""
        results: list[Outcome | None] = [None] * len(questions)
        cursor = iter(range(len(questions)))

        async def worker() -> None:
            for index in cursor:
                results[index] = await self.ask(questions[index])

        workers = min(self.limits.concurrency, len(questions))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return [r if r is not None else Outcome(None, "not asked") for r in results]

    async def ask(self, question: Question) -> Outcome:
        try:
            return await self._attempt(question)
        except _Timeout:
            pass
        if not self.limits.retries:
            return Outcome(None, "timeout", timed_out=True)
        # Retries only after a timeout; the first try above stays cheap on the common path.
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(_Timeout),
            stop=tenacity.stop_after_attempt(self.limits.retries),
            wait=tenacity.wait_exponential(multiplier=self.limits.timeout / 4, max=5),
            reraise=True,
        )
        try:
            return await retrying(self._attempt, question)
        except _Timeout:
            return Outcome(None, "timeout", timed_out=True)

    async def _attempt(self, question: Question) -> Outcome:
        channel = self._channel
        assert channel is not None, "use `async with`"
        await self._rate.wait()
        loop = asyncio.get_running_loop()
        qid = channel.free_id()
        future: asyncio.Future[bytes] = loop.create_future()
        channel.pending[qid] = (future, question.wire)
        timer = loop.call_later(self.limits.timeout, _expire, future)
        try:
            self.sent += 1
            channel.send(query_wire(qid, question.wire))
            data = await future
        finally:
            timer.cancel()
            del channel.pending[qid]
        try:
            reply = parse_reply(data, question.wire, question.rdtype)
        except WireError as exc:
            return Outcome(None, str(exc))
        if reply.truncated:
            return await self._over_tcp(question)
        return Outcome(reply)

    async def _over_tcp(self, question: Question) -> Outcome:
        await self._rate.wait()
        self.sent += 1
        qid = random.getrandbits(16)
        msg = dns.message.from_wire(query_wire(qid, question.wire))
        try:
            response = await dns.asyncquery.tcp(
                msg, self.server.host, timeout=self.limits.timeout, port=self.server.port
            )
        except (dns.exception.Timeout, TimeoutError):
            return Outcome(None, "timeout over TCP", timed_out=True)
        except (OSError, dns.exception.DNSException) as exc:
            return Outcome(None, f"TCP: {exc}")
        try:
            return Outcome(reply_from_message(response, question.wire, question.rdtype))
        except WireError as exc:
            return Outcome(None, str(exc))


def _expire(future: asyncio.Future[bytes]) -> None:
    if not future.done():
        future.set_exception(_Timeout())
