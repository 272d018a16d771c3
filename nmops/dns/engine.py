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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import dns.asyncquery
import dns.exception
import dns.message
import tenacity

from nmops.dns.wire import Reply, WireError, parse_reply, query_wire, reply_from_message, reply_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Server:
        """Canonical ``IP:PORT`` or ``[IPv6]:PORT`` text, as the config validator writes it."""
        host, _, port = text.rpartition(":")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


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


class _UdpChannel(asyncio.DatagramProtocol):
    """Multiplexes queries over one UDP socket; replies are matched on ID and question."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[asyncio.Future[bytes], bytes]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
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

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) arrive without saying which query caused them; the
        # per-query timeout is what decides.
        log.debug("udp error: %s", exc)

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
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            _UdpChannel, remote_addr=(self.server.host, self.server.port)
        )
        self._channel = protocol
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._channel is not None and self._channel.transport is not None:
            self._channel.transport.close()

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
        assert channel is not None and channel.transport is not None, "use `async with`"
        await self._rate.wait()
        loop = asyncio.get_running_loop()
        qid = channel.free_id()
        future: asyncio.Future[bytes] = loop.create_future()
        channel.pending[qid] = (future, question.wire)
        timer = loop.call_later(self.limits.timeout, _expire, future)
        try:
            self.sent += 1
            channel.transport.sendto(query_wire(qid, question.wire))
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
