"""Load ``nmops.yaml`` and the inventory it names; collect every problem, each located."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nmops.config.model import MAX_FQDN, Inventory, Router, Settings
from nmops.config.network import link_problems, router_problems
from nmops.config.secrets import SecretRef
from nmops.config.yamlsrc import Located, Path_, dotted, load_located, shown_key
from nmops.errors import ConfigError, SecretError

DEFAULT_CONFIG = Path("config/nmops.yaml")
M = TypeVar("M", bound=BaseModel)

# pydantic's wording -> what a person editing YAML needs to hear.
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}
# The only keys whose offending value is shown back ("(got ...)", or a validator's own quote):
# names, addresses, numbers, switches. Anything else (login, a secret, a key nmops does not
# know, a string where a mapping belongs) may hold a password typed in the wrong place.
# ``*`` is any router, ``#`` any list index; a defaults key counts as the router key.
_ECHOED = frozenset(
    {
        "inventory",
        *(f"dns.{k}" for k in ("servers.#", "bootstrap.#", "port", "timeout", "retries")),
        *(f"dns.{k}" for k in ("concurrency", "rate", "edns_payload", "allow_documentation")),
        *(f"ssh.{k}" for k in ("known_hosts", "connect_timeout", "command_timeout")),
        *(f"ssh.{k}" for k in ("concurrency", "takeover", "log_dir")),
        *(f"policy.{k}" for k in ("actions", "confirm_after", "ddns_wait", "ike_wait")),
        *(f"policy.{k}" for k in ("reboot_wait", "poll", "max_reboots", "link_gap")),
        *(f"policy.{k}" for k in ("quiet_hours", "timezone", "pin")),
        *(f"mail.smtp.{k}" for k in ("host", "port", "security", "timeout", "ca_file")),
        *(f"mail.{k}" for k in ("from", "to.#.address", "to.#.events.#", "to.#.language")),
        *(f"notify.{k}" for k in ("webhooks.#.events.#", "webhooks.#.timeout")),
        *(f"notify.{k}" for k in ("max_attempts", "max_age")),
        "report.language",
        "state.retention",
        *(f"incidents.{k}" for k in ("resolve_after", "remind_every", "flapping.flips")),
        *(f"incidents.{k}" for k in ("flapping.window", "maintenance.#.routers")),
        *(f"incidents.maintenance.#.{k}" for k in ("routers.#", "every", "start", "duration")),
        "netmeister.group",
        "netmeister.zone",
        *(f"routers.*.{k}" for k in ("name", "site", "ddns_hostname", "ddns.ipv4", "ddns.ipv6")),
        *(f"routers.*.{k}" for k in ("lan.interface", "lan.address")),
        *(f"routers.*.{k}" for k in ("expect.ipv4.#", "expect.ipv6.#")),
        *(f"routers.*.management.#.{k}" for k in ("host", "port", "via.#")),
        "routers.*.reboot",
        *(f"routers.*.{k}" for k in ("model", "monitor.target", "hgw.address")),
        *(f"routers.*.wan.ipoe.{k}" for k in ("interface", "mode", "ipv6")),
        *(f"routers.*.wan.pppoe.{k}" for k in ("interface", "profile")),
        *(f"routers.*.address.{k}" for k in ("ipv4", "ipv6")),
        *(f"links.#.{k}" for k in ("peers.#", "via.#.family", "via.#.cost", "via.#.tunnel")),
        "peers.templates",
    }
)
_HIDDEN = "(not shown)"


@dataclass(frozen=True)
class Config:
    """Everything one run needs: settings, the network, and where they came from."""

    path: Path
    settings: Settings
    inventory: Inventory

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve_path(self, value: str) -> Path:
        """A path from nmops.yaml, relative to that file."""
        return (self.base_dir / value).resolve()

    def routers(self, names: list[str] | None = None) -> list[Router]:
        """The routers to work on, in inventory order; unknown names are a config error."""
        if not names:
            return list(self.inventory.routers.values())
        unknown = [n for n in names if n not in self.inventory.routers]
        if unknown:
            raise ConfigError([f"no router named {n!r} in the inventory" for n in unknown])
        wanted = set(names)
        return [r for n, r in self.inventory.routers.items() if n in wanted]


def config_path(explicit: str | None) -> Path:
    """``--config``, then ``$NMOPS_CONFIG``, then ``./config/nmops.yaml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("NMOPS_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_config(path: Path) -> Config:
    """Load both files; problems in either are reported together."""
    settings_src = load_located(path)
    problems: list[str] = []
    settings: Settings | None = None
    inventory_name: str | None = None
    try:
        settings = _validate(Settings, settings_src.data, settings_src, path.parent)
        inventory_name = settings.inventory
    except ConfigError as exc:
        problems += exc.problems
        # Still read the inventory the file names, so its problems show up in the same run.
        raw = settings_src.data.get("inventory") if isinstance(settings_src.data, dict) else None
        inventory_name = raw if isinstance(raw, str) else None
    inventory: Inventory | None = None
    if inventory_name is not None:
        try:
            inventory = load_inventory((path.parent / inventory_name).resolve())
        except ConfigError as exc:
            problems += exc.problems
    if problems or settings is None or inventory is None:
        raise ConfigError(problems)
    return Config(path=path.resolve(), settings=settings, inventory=inventory)


def load_inventory(path: Path) -> Inventory:
    src = load_located(path)
    raw = src.data if src.data is not None else {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{src.where(())}: the inventory must be a mapping"])
    defaults = raw.get("defaults") or {}
    routers = raw.get("routers")
    problems: list[str] = []
    if not isinstance(defaults, dict):
        problems.append(f"{src.where(('defaults',))}: defaults: must be a mapping")
        defaults = {}
    if "name" in defaults:
        problems.append(f"{src.where(('defaults', 'name'))}: defaults.name: unknown key")
    if isinstance(routers, dict):
        merged: dict[str, Any] = {}
        for name, body in routers.items():
            if body is None:
                body = {}
            if not isinstance(body, dict):
                where = src.where(("routers", name))
                problems.append(f"{where}: routers.{shown_key(name)}: must be a mapping")
                continue
            if "name" in body:
                where = src.where(("routers", name, "name"))
                problems.append(
                    f"{where}: routers.{shown_key(name)}.name: unknown key (the name is the key)"
                )
            inherited = {k: v for k, v in defaults.items() if k != "name"}
            merged[name] = {**_deep_merge(inherited, body), "name": name}
        raw = {**raw, "routers": merged}
    try:
        inventory = _validate(Inventory, raw, src, path.parent)
    except ConfigError as exc:
        # A router skipped above is not "no routers at all".
        skipped = problems and isinstance(routers, dict) and routers
        problems += [p for p in exc.problems if not (skipped and "at least one router" in p)]
        raise ConfigError(problems) from None
    seen: dict[str, str] = {}
    clashing: set[str] = set()
    for name in inventory.routers:
        first = seen.setdefault(name.casefold(), name)
        if first != name:
            clashing.add(name)
            # Reports, logs and transcript files are per name: keep names apart everywhere.
            problems.append(
                f"{src.where(('routers', name))}: routers.{shown_key(name)}: the same name "
                f"as {first} but for case; router names must differ in more than case"
            )
    for label, names in inventory.duplicate_host_labels().items():
        for name in names[1:]:
            if name in clashing:
                continue  # already reported: the names themselves clash
            where = src.where(("routers", name))
            problems.append(
                f"{where}: routers.{shown_key(name)}: DDNS host label {label!r} is also "
                f"{names[0]}'s: two routers cannot share DNS names (set ddns_hostname)"
            )
    problems += _fqdn_problems(inventory, src)
    problems += _network_problems(inventory, src)
    problems += _secret_problems(inventory, src)
    if problems:
        raise ConfigError(problems)
    return inventory


def _fqdn_problems(inventory: Inventory, src: Located) -> list[str]:
    """Names DNS cannot carry, located where the host label comes from."""
    problems = []
    for name, (family, length) in inventory.overlong_fqdns().items():
        router = inventory.routers[name]
        path = _source(("routers", name, "ddns_hostname"), src)
        if router.ddns_hostname is None or path not in src.lines:
            path = ("routers", name)
        problems.append(
            f"{src.where(path)}: {dotted(path)}: the {family} FQDN would be {length} "
            f"characters (max {MAX_FQDN}): shorten the host label, group or zone"
        )
    return list(dict.fromkeys(problems))


def _network_problems(inventory: Inventory, src: Located) -> list[str]:
    """What the links ask of the routers, and what a router's peer-config keys say against
    each other (nmops.config.network), located like the rest."""
    found = link_problems(inventory)
    for router in inventory.routers.values():
        found += router_problems(router)
    return list(
        dict.fromkeys(
            f"{src.where(_source(p, src))}: {dotted(_source(p, src))}: {m}" for p, m in found
        )
    )


def _secret_problems(inventory: Inventory, src: Located) -> list[str]:
    """Every login the run may use, checked now without reading it.

    At load time rather than when first used: a missing password file found only at login
    looks like an ``unreachable`` router (a WARNING, and the wrong lead); as a config error it
    is UNKNOWN and names the key. It applies to every command that loads the config, also
    ``check --no-router`` (the same file feeds the full check, whose next run would fail) and
    ``trust`` (which logs in to nothing, but a router it pins is one nmops will log in to).
    Routers without ``management`` are never logged in to: their login is not checked. The
    NetMeister password is written into a router config only by the commands that render
    one; they check it when they need it, so a check does not depend on it.
    """
    wanted: list[tuple[Path_, SecretRef]] = []
    for name, router in inventory.routers.items():
        if router.login is not None and router.management:
            wanted.append((("routers", name, "login", "password"), router.login.password))
    failures: dict[SecretRef, str | None] = {}
    problems = []
    for loc, ref in wanted:
        if ref not in failures:
            try:
                ref.check()
                failures[ref] = None
            except SecretError as exc:
                failures[ref] = str(exc)
        failure = failures[ref]
        if failure is not None:
            path = _source(loc, src)
            problems.append(f"{src.where(path)}: {dotted(path)}: {failure}")
    # An inherited secret: once, at the defaults line, however many routers use it.
    return list(dict.fromkeys(problems))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        # A secret reference ({env: ...} or {file: ...}) replaces the inherited one whole.
        is_secret = isinstance(value, dict) and value and set(value) <= {"env", "file"}
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not is_secret:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(model: type[M], data: Any, src: Located, base_dir: Path) -> M:
    if data is None:
        data = {}
    try:
        return model.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = [_describe(err, src) for err in exc.errors()]
        raise ConfigError(list(dict.fromkeys(problems))) from None


def _source(loc: Path_, src: Located) -> Path_:
    """Where a router key comes from: the router, or the defaults it inherits the key from
    (then reported once, as the defaults key, not once per router that inherits it)."""
    if (
        len(loc) >= 3
        and loc[0] == "routers"
        and loc not in src.lines
        and ("defaults", *loc[2:]) in src.lines
    ):
        return ("defaults", *loc[2:])
    return loc


def _describe(err: Any, src: Located) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    path = loc = _source(loc, src)
    if loc[-1:] == ("name",) and len(loc) == 3:
        path = loc[:2]
    message = _MESSAGES.get(err["type"], err["msg"])
    message = message.removeprefix("Value error, ")
    value = err.get("input")
    if err["type"] not in _MESSAGES and _is_scalar(value):
        shown = repr(value)
        if not _echoed(loc):
            # A validator may quote the value itself ("value 'x y' contains whitespace").
            message = message.replace(shown, _HIDDEN) if isinstance(value, str) else message
        elif shown not in message:
            message = f"{message} (got {shown})"
    return f"{src.where(path)}: {dotted(loc)}: {message}"


def _echoed(loc: Path_) -> bool:
    """May the value at ``loc`` be printed back? Only for the keys in ``_ECHOED``."""
    parts = ["#" if isinstance(p, int) else str(p) for p in loc]
    if parts[:1] == ["defaults"]:
        parts = ["routers", "*", *parts[1:]]
    elif parts[:1] == ["routers"] and len(parts) > 1:
        parts[1] = "*"
    return ".".join(parts) in _ECHOED


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None
