"""Load ``nmops.yaml`` and the inventory it names; collect every problem, each located."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nmops.config.model import Inventory, Router, Settings
from nmops.config.yamlsrc import Located, load_located, shown_key
from nmops.errors import ConfigError

DEFAULT_CONFIG = Path("config/nmops.yaml")
M = TypeVar("M", bound=BaseModel)

# pydantic's wording -> what a person editing YAML needs to hear.
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


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
    if problems:
        raise ConfigError(problems)
    return inventory


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


def _describe(err: Any, src: Located) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # A router key inherited from defaults is reported where defaults set it.
    path = loc
    if (
        len(loc) >= 3
        and loc[0] == "routers"
        and loc not in src.lines
        and ("defaults", *loc[2:]) in src.lines
    ):
        # Reported once, as the defaults key, not once per router that inherits it.
        path = loc = ("defaults", *loc[2:])
    if loc[-1:] == ("name",) and len(loc) == 3:
        path = loc[:2]
    message = _MESSAGES.get(err["type"], err["msg"])
    message = message.removeprefix("Value error, ")
    if (
        err["type"] not in _MESSAGES
        and "input" in err
        and _is_scalar(err["input"])
        and repr(err["input"]) not in message
        and not _secretish(loc)
    ):
        message = f"{message} (got {err['input']!r})"
    key = ".".join(shown_key(p) for p in loc) or "(top)"
    return f"{src.where(path)}: {key}: {message}"


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _secretish(loc: tuple[Any, ...]) -> bool:
    return any(str(p) in {"password", "psk", "secret"} for p in loc)
