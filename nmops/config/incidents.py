"""`incidents:` in nmops.yaml: when findings become incidents, how often they are told again,
what counts as flapping, and the maintenance windows during which nothing is mailed.

```yaml
incidents:
  resolve_after: 2            # good checks in a row before an incident is resolved
  remind_every: 6h            # at most this often, a reminder of what is still wrong
  flapping: {flips: 4, window: 1h}   # more than 4 good/bad flips within 1 h: flapping
  maintenance:
    - {routers: [ix2215-kagawa], every: sun, start: "03:00", duration: 2h, reason: ISP work}
    - {routers: "*", every: "0 2 1 * *", duration: 30m}   # a cron expression: its own start
```

Opening uses `policy.confirm_after`; the windows are in `policy.timezone`.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from nmops.names import check_name

_DURATION_RE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALIASES = {"daily": "mon-sun", "weekdays": "mon-fri", "weekends": "sat,sun"}
_START_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``30m``, ``6h``, ``2d``, ``1w``, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value.strip())
        if match is not None:
            return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
        if value.startswith("P"):  # ISO 8601, as pydantic writes a timedelta to JSON
            try:
                return TypeAdapter(timedelta).validate_python(value)
            except ValidationError:
                pass
    raise ValueError(f"{value!r} is not a duration: a number and s, m, h, d or w (e.g. 6h)")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]


def parse_weekdays(text: str) -> frozenset[int]:
    """``sun``, ``mon-fri``, ``sat,sun``, ``daily``, ``weekdays``, ``weekends``: Monday is 0."""
    spec = _ALIASES.get(text.strip().lower(), text.strip().lower())
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(
                f"{text!r} is neither weekdays (sun, mon-fri, sat,sun, daily) nor a cron "
                "expression (5 fields)"
            )
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def _routers(value: Any) -> Literal["*"] | tuple[str, ...]:
    if value == "*":
        return "*"
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError('give a list of router names, or "*" for every router')
    return tuple(check_name(v) for v in value)


def _clock(text: str) -> time:
    match = _START_RE.match(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{text!r} is not HH:MM (00:00-23:59)")
    return time(int(match[1]), int(match[2]))


def _cron(expression: str, zone: str) -> Any:
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as exc:
        raise ValueError(f"{expression!r} is not a cron expression: {exc}") from None


class Maintenance(_Strict):
    """A recurring window: its incidents are recorded and shown, not mailed."""

    routers: Annotated[Literal["*"] | tuple[str, ...], PlainValidator(_routers)]
    every: str  # weekdays (sun, mon-fri, daily) with `start`, or a cron expression
    start: str | None = None  # HH:MM in policy.timezone
    duration: Duration
    reason: str | None = None

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        if len(value.split()) == 5:
            _cron(value, "UTC")  # refuses a bad expression now, not when first used
        else:
            parse_weekdays(value)
        return value

    @field_validator("start")
    @classmethod
    def _start_text(cls, value: str | None) -> str | None:
        if value is not None:
            _clock(value)
        return value

    @field_validator("duration")
    @classmethod
    def _at_most_a_week(cls, value: timedelta) -> timedelta:
        if value > timedelta(days=7):
            raise ValueError("a maintenance window lasts at most 7d")
        return value

    @field_validator("reason")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(not c.isprintable() for c in value):
            raise ValueError("control characters are not allowed")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Maintenance:
        if self.is_cron and self.start is not None:
            raise ValueError("a cron expression gives its own start: leave `start` out")
        if not self.is_cron and self.start is None:
            raise ValueError("give `start` (HH:MM) with weekdays, or a cron expression")
        return self

    @property
    def is_cron(self) -> bool:
        return len(self.every.split()) == 5

    def covers(self, router: str) -> bool:
        return self.routers == "*" or router in self.routers

    def active(self, moment: datetime, zone: ZoneInfo) -> bool:
        """Whether ``moment`` (aware) falls in one of this window's occurrences."""
        return self.last_start(moment, zone) is not None

    def last_start(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """The start of the occurrence ``moment`` falls in, or None."""
        earliest = moment - self.duration
        if self.is_cron:
            trigger = _cron(self.every, str(zone.key))
            # The first start after the earliest one that could still cover ``moment``.
            fire = trigger.get_next_fire_time(None, earliest.astimezone(zone))
            while fire is not None and fire + self.duration <= moment:
                fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
            return fire if fire is not None and fire <= moment else None
        here = moment.astimezone(zone)
        start = _clock(self.start or "")
        days = parse_weekdays(self.every)
        for back in range(self.duration.days + 2):
            day = here.date() - timedelta(days=back)
            if day.weekday() not in days:
                continue
            begin = datetime.combine(day, start, tzinfo=zone)
            if begin <= here < begin + self.duration:
                return begin
        return None


class Flapping(_Strict):
    flips: int = Field(4, ge=1, le=1000)  # more than this many good/bad flips ...
    window: Duration = timedelta(hours=1)  # ... within this long: flapping


class IncidentSettings(_Strict):
    resolve_after: int = Field(2, ge=1, le=100)
    remind_every: Duration = timedelta(hours=6)
    flapping: Flapping = Field(default_factory=Flapping)
    maintenance: list[Maintenance] = Field(default_factory=list)

    def in_maintenance(self, router: str, moment: datetime, zone: ZoneInfo) -> Maintenance | None:
        """The window that silences ``router`` at ``moment``, if any."""
        return next(
            (w for w in self.maintenance if w.covers(router) and w.active(moment, zone)), None
        )
