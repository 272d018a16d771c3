"""Running a real BIND 9 (``named``) on 127.0.0.1 for tests and benchmarks.

The zone is written from plain records, ``allow-update`` admits RFC 2136 updates from
127.0.0.1, and :meth:`Bind.update` sends them with dnspython, so a test changes records the way
a DDNS provider does and sees the change at once.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.update

from nmops.errors import NmopsError


class BindError(NmopsError):
    pass


def named_binary() -> str | None:
    for candidate in ("named", "/usr/sbin/named"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return port
    raise BindError("no free port on 127.0.0.1")


@dataclass
class Bind:
    """One ``named`` process serving ``zone`` from ``records`` (``(name, type, value)``,
    names relative to the zone)."""

    workdir: Path
    zone: str = "nmddns.jp"
    records: list[tuple[str, str, str]] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    ttl: int = 60
    extra_options: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def zone_text(self) -> str:
        lines = [
            f"$ORIGIN {self.zone}.",
            f"$TTL {self.ttl}",
            f"@ IN SOA ns1 hostmaster 1 3600 600 86400 {self.ttl}",
            "@ IN NS ns1",
            f"ns1 IN A {self.host}",
        ]
        lines += [f"{name} IN {rtype} {value}" for name, rtype, value in self.records]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> Bind:
        binary = named_binary()
        if binary is None:
            raise BindError("BIND 9 is not installed (Debian: apt-get install bind9)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        (self.workdir / "zone.db").write_text(self.zone_text())
        conf = self.workdir / "named.conf"
        conf.write_text(
            f"""options {{
  directory "{self.workdir}";
  pid-file "{self.workdir}/named.pid";
  listen-on port {self.port} {{ {self.host}; }};
  listen-on-v6 {{ none; }};
  recursion no;
  notify no;
  dnssec-validation no;
  rate-limit {{ responses-per-second 0; }};
  {self.extra_options}
}};
controls {{ }};
zone "{self.zone}" {{
  type primary;
  file "{self.workdir}/zone.db";
  allow-update {{ 127.0.0.1; }};
}};
"""
        )
        log = open(self.workdir / "named.log", "wb")  # noqa: SIM115 - lives as long as named
        self.process = subprocess.Popen(
            [binary, "-g", "-c", str(conf), "-n", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BindError(f"named exited: {(self.workdir / 'named.log').read_text()[-2000:]}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise BindError(f"named did not answer on {self.address} within {timeout} s")

    def _answers(self) -> bool:
        query = dns.message.make_query(self.zone, "SOA")
        try:
            dns.query.udp(query, self.host, port=self.port, timeout=0.2)
        except (OSError, dns.exception.DNSException):
            return False
        return True

    def update(
        self,
        *,
        replace: Iterable[tuple[str, str, Iterable[str]]] = (),
        delete: Iterable[tuple[str, str | None]] = (),
    ) -> None:
        """RFC 2136: replace ``(name, type, values)`` rrsets; delete ``(name, type or None)``."""
        update = dns.update.UpdateMessage(self.zone)
        for name, rtype, values in replace:
            update.delete(name, rtype)
            for value in values:
                update.add(name, self.ttl, rtype, value)
        for name, maybe_type in delete:
            if maybe_type is None:
                update.delete(name)
            else:
                update.delete(name, maybe_type)
        response = dns.query.tcp(update, self.host, port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise BindError(f"update refused: {dns.rcode.to_text(response.rcode())}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @contextlib.contextmanager
    def running(self) -> Iterator[Bind]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
