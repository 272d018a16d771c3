"""The repair policy (`policy:` in nmops.yaml) and the state database setting (`state:`).

Safe defaults: nothing acts until `policy.actions: apply` says so, a problem must be seen in
two checks in a row, one reboot per router per day, never both ends of a VPN link within an
hour of each other.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nmops.config.incidents import Duration

_HOURS_RE = re.compile(r"^(?P<a>\d{1,2}):(?P<b>\d{2})-(?P<c>\d{1,2}):(?P<d>\d{2})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(hour: str, minute: str) -> time:
    h, m = int(hour), int(minute)
    if h == 24 and m == 0:
        return time(0, 0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError("hours run 00:00-23:59")
    return time(h, m)


class QuietHours(_Strict):
    """A daily window with no reboots, in the policy's time zone (may span midnight)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        match = _HOURS_RE.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not HH:MM-HH:MM")
        return cls(start=_clock(match["a"], match["b"]), end=_clock(match["c"], match["d"]))

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # across midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class Policy(_Strict):
    # off: `fix` does nothing; plan: it plans (dry runs); apply: `fix --apply` may act.
    actions: Literal["off", "plan", "apply"] = "plan"
    confirm_after: int = Field(2, ge=1, le=100)  # consecutive bad checks before acting
    ddns_wait: float = Field(300.0, gt=0, le=7200)  # seconds to wait for DNS to follow
    ike_wait: float = Field(120.0, gt=0, le=3600)  # for a bounced tunnel to renegotiate
    reboot_wait: float = Field(600.0, gt=0, le=7200)  # for a rebooted router to come back
    poll: float = Field(10.0, gt=0, le=600)  # between looks while waiting
    max_reboots: int = Field(1, ge=0, le=24)  # per router per 24 h
    link_gap: float = Field(3600.0, ge=0, le=7 * 86400)  # never both ends of a link closer
    quiet_hours: QuietHours | None = None  # e.g. "01:00-06:00": no reboots then
    timezone: str = "Asia/Tokyo"
    # on: a tunnel whose peer's DDNS name stays broken is pointed at the peer's real address
    # (from the peer's CLI) until the name is right again. Off by default: it changes the
    # config of a router that has nothing wrong with it.
    pin: Literal["on", "off"] = "off"

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _hours(cls, value: object) -> object:
        if isinstance(value, str):
            return QuietHours.parse(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Asia/Tokyo, UTC)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def quiet(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) falls in the quiet hours."""
        if self.quiet_hours is None:
            return False
        return self.quiet_hours.contains(moment.astimezone(self.zone).time())

    @property
    def reboot_window(self) -> timedelta:
        return timedelta(hours=24)


def default_state_url() -> str:
    """`sqlite:///$XDG_STATE_HOME/nmops/state.db` (XDG's default: ~/.local/state)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return f"sqlite:///{Path(base) / 'nmops' / 'state.db'}"


class StateSettings(_Strict):
    # A SQLAlchemy URL. `sqlite:///relative/path` is relative to nmops.yaml; PostgreSQL
    # (`postgresql+psycopg://user@host/db`) for installations that run nmops as a pair.
    url: str | None = None
    # Runs, transitions, actions, job runs and sent mail older than this are compacted away
    # (what is current and what is still open stays); null keeps everything. At least 7d:
    # the repair ladder reads a week of actions.
    retention: Duration | None = timedelta(days=90)

    @field_validator("retention")
    @classmethod
    def _a_week_at_least(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(days=7):
            raise ValueError("keep at least 7d (the repair ladder reads a week of actions)")
        return value

    def resolved(self, base_dir: Path) -> str:
        if self.url is None:
            return default_state_url()
        prefix = "sqlite:///"
        if self.url.startswith(prefix) and not self.url.startswith(prefix + "/"):
            path = self.url[len(prefix) :]
            if path and path != ":memory:":
                return prefix + str((base_dir / path).resolve())
        return self.url
