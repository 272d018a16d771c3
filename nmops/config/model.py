"""The configuration as typed values, validated by pydantic (strict: unknown keys are errors)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nmops.config.incidents import IncidentSettings
from nmops.config.network import FixedAddress, Hgw, Link, Monitor, PeersSettings, Token, Wan
from nmops.config.notify import MailSettings, NotifySettings, ReportSettings
from nmops.config.policy import Policy, StateSettings
from nmops.config.secrets import SecretRef
from nmops.dns.addresses import Server
from nmops.names import (
    check_domain,
    check_host,
    check_interface,
    check_label,
    check_name,
    check_printable,
)

Label = Annotated[str, AfterValidator(check_label)]
RouterName = Annotated[str, AfterValidator(check_name)]
Domain = Annotated[str, AfterValidator(check_domain)]
Interface = Annotated[str, AfterValidator(check_interface)]
Text = Annotated[str, AfterValidator(check_printable)]
Family = Literal["ipv4", "ipv6"]
# A name is at most 255 octets on the wire: 253 characters as text, without the final dot.
MAX_FQDN = 253


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret(value: Any, info: ValidationInfo) -> SecretRef:
    if isinstance(value, SecretRef):
        return value
    if not isinstance(value, dict) or set(value) not in ({"env"}, {"file"}):
        raise ValueError("a secret is a reference, {env: VAR} or {file: PATH}, never the value")
    ((kind, ref),) = value.items()
    if not isinstance(ref, str) or not ref:
        raise ValueError(f"secret {kind}: must be a non-empty string")
    if kind == "env":
        return SecretRef(env=ref)
    base = (info.context or {}).get("base_dir", Path("."))
    return SecretRef(file=(base / ref).resolve())


Secret = Annotated[SecretRef, BeforeValidator(_secret)]


def _server(value: str) -> str:
    """Canonical ``IP:PORT`` text; the one parser is ``Server.parse``."""
    return str(Server.parse(value))


ServerText = Annotated[str, AfterValidator(_server)]


class DnsSettings(_Strict):
    servers: list[ServerText] = Field(default_factory=list)
    bootstrap: list[ServerText] = Field(default_factory=list)
    port: int = Field(53, ge=1, le=65535)  # port of servers found by discovery
    timeout: float = Field(2.0, gt=0, le=60)
    retries: int = Field(2, ge=0, le=10)
    concurrency: int = Field(8, ge=1, le=2000)
    rate: float = Field(50.0, ge=0)  # queries per second per server; 0 lifts the limit
    edns_payload: int = Field(1232, ge=512, le=4096)
    allow_documentation: bool = False


class SshSettings(_Strict):
    known_hosts: str = "known_hosts"
    connect_timeout: float = Field(10.0, gt=0, le=300)
    command_timeout: float = Field(30.0, gt=0, le=600)
    concurrency: int = Field(20, ge=1, le=1000)
    takeover: bool = False
    log_dir: str | None = None


class Settings(_Strict):
    inventory: str = "inventory.yaml"
    dns: DnsSettings = Field(default_factory=DnsSettings)
    ssh: SshSettings = Field(default_factory=SshSettings)
    policy: Policy = Field(default_factory=Policy)
    state: StateSettings = Field(default_factory=StateSettings)
    mail: MailSettings | None = None
    notify: NotifySettings = Field(default_factory=NotifySettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    peers: PeersSettings = Field(default_factory=PeersSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)


class Ddns(_Strict):
    ipv4: Interface | None = None
    ipv6: Interface | None = None

    @model_validator(mode="after")
    def _one_family(self) -> Ddns:
        if self.ipv4 is None and self.ipv6 is None:
            raise ValueError("name at least one notify interface: ipv4 or ipv6")
        return self

    def families(self) -> list[Family]:
        out: list[Family] = []
        if self.ipv4 is not None:
            out.append("ipv4")
        if self.ipv6 is not None:
            out.append("ipv6")
        return out

    def interface(self, family: Family) -> str | None:
        return self.ipv4 if family == "ipv4" else self.ipv6


class Lan(_Strict):
    interface: Interface
    address: ipaddress.IPv4Interface


class Expect(_Strict):
    ipv4: list[ipaddress.IPv4Address] | None = None
    ipv6: list[ipaddress.IPv6Address] | None = None


class ManagementPath(_Strict):
    host: Annotated[str, AfterValidator(check_host)]
    port: int = Field(22, ge=1, le=65535)
    # The tunnels this path runs through (nmops reaches the router over the VPN): a repair
    # never bounces them, and verifies through another path when there is one.
    via: list[Interface] = Field(default_factory=list)


class Login(_Strict):
    username: Text
    password: Secret


class Router(_Strict):
    name: RouterName
    site: Text | None = None
    ddns_hostname: Label | None = None
    # No `ddns`: a router with a fixed address (a hub). It has no names of its own; its facts,
    # saved state and IKE peers are still checked.
    ddns: Ddns | None = None
    lan: Lan | None = None
    expect: Expect | None = None
    management: list[ManagementPath] = Field(default_factory=list)
    login: Login | None = None
    # deny: never reboot this router (its reboot would cut the only path to it).
    reboot: Literal["allow", "deny"] = "allow"
    # What `nmops peers render` builds the router's config from (nmops.config.network).
    model: Token = "IX2215"
    wan: Wan | None = None
    monitor: Monitor | None = None
    hgw: Hgw | None = None
    psk: Secret | None = None  # this router's IKEv2 key; its peers hold it too
    address: FixedAddress | None = None  # a hub's fixed addresses, dialled instead of names

    @property
    def management_tunnels(self) -> frozenset[str]:
        return frozenset(t for path in self.management for t in path.via)

    @model_validator(mode="after")
    def _login_for_management(self) -> Router:
        if self.management and self.login is None:
            raise ValueError("`management` paths need a `login` (usually under defaults)")
        return self

    @property
    def host_label(self) -> str:
        """The DDNS host label (`nm ddns hostname`, else the router's name), lower case."""
        return (self.ddns_hostname or self.name).lower()

    def families(self) -> list[Family]:
        """The families this router has DDNS names for."""
        return self.ddns.families() if self.ddns is not None else []

    def notify_interface(self, family: Family) -> str | None:
        """The inventory's `nm ddns notify` interface for ``family``."""
        return self.ddns.interface(family) if self.ddns is not None else None

    def expected(self, family: Family) -> frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        """The addresses ``expect`` fixes for ``family``; empty when it fixes none."""
        if self.expect is None:
            return frozenset()
        values = self.expect.ipv4 if family == "ipv4" else self.expect.ipv6
        return frozenset(values or ())


class NetMeister(_Strict):
    group: Label
    zone: Domain = "nmddns.jp"
    password: Secret | None = None

    def fqdn(self, host_label: str, family: Family) -> str:
        middle = "v6." if family == "ipv6" else ""
        return f"{host_label}.{self.group}.{middle}{self.zone}"


class Inventory(_Strict):
    netmeister: NetMeister
    defaults: dict[str, Any] = Field(default_factory=dict)
    routers: dict[str, Router]
    links: list[Link] = Field(default_factory=list)  # the VPN: which routers, which families

    @field_validator("routers", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, dict) and not value:
            raise ValueError("list at least one router")
        return value

    def overlong_fqdns(self) -> dict[str, tuple[Family, int]]:
        """Routers with a DDNS name longer than DNS allows: (that family, the name's length).
        Each label is checked on its own; only here are they put together."""
        out: dict[str, tuple[Family, int]] = {}
        for name, router in self.routers.items():
            lengths = [
                (len(self.netmeister.fqdn(router.host_label, family)), family)
                for family in router.families()
            ]
            if not lengths:
                continue  # no DDNS names (a router with a fixed address)
            length, family = max(lengths)
            if length > MAX_FQDN:
                out[name] = (family, length)
        return out

    def duplicate_host_labels(self) -> dict[str, list[str]]:
        """DDNS host labels claimed by more than one router (they would share DNS names)."""
        owners: dict[str, list[str]] = {}
        for router in self.routers.values():
            owners.setdefault(router.host_label, []).append(router.name)
        return {label: names for label, names in owners.items() if len(names) > 1}
