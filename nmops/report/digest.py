"""The daily digest: what the state database knows about the last day (or ``since``), as a
mail (text + HTML from the Jinja2 templates beside this module, CSS inlined).

:func:`build_digest` reads (``digest_data``); :func:`digest_view` turns that into the values
the templates show (pure, so tests read it with a frozen clock); :func:`render_digest` renders.
Everything shown that came from routers, DNS or the config goes through :func:`clean` (text)
and autoescaping (HTML); no secret is ever read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import cache
from typing import Any

import css_inline
import jinja2

from nmops.config.load import Config
from nmops.config.notify import Language
from nmops.dns.observe import names_to_check
from nmops.incidents import Incident
from nmops.linkpaths import PathChange, peer_key
from nmops.notify.events import Message
from nmops.notify.message import SUBJECT_LIMIT, clean, local_time, what
from nmops.report import timeline
from nmops.report.digest_data import DigestData, read
from nmops.state.store import Store
from nmops.status import ExitCode, Status, severity

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# The newest data older than this is itself a problem: checks have stopped.
STALE_DATA = timedelta(hours=1)
_CELLS_DAY = 24  # one cell an hour
_CELLS_WEEK = 28  # one cell per 6 hours
_NAME_SUBJECTS = ("name:ipv4", "name:ipv6", "router")
_PATHS: dict[Language, dict[str, str]] = {
    "en": {"ipv6": "IPv6 tunnel", "ipv4": "IPv4 backup", "down": "down"},
    "ja": {"ipv6": "IPv6 トンネル", "ipv4": "IPv4 バックアップ", "down": "不通"},
}
_PATH_CELL = {"ipv6": "ok", "ipv4": "warn", "down": "crit"}


def status_class(status: str) -> str:
    """``ok``, ``warn`` or ``crit``: how a status shows (an unknown one as critical)."""
    try:
        code = severity(Status(status))
    except ValueError:
        return "crit"
    return {ExitCode.OK: "ok", ExitCode.WARNING: "warn"}.get(code, "crit")


def duration(span: timedelta, language: Language) -> str:
    """``2 d 4 h``, ``3 h 12 min``, ``45 min``, ``30 s`` (ja: ``2日4時間`` ...)."""
    seconds = max(int(span.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = ("d", "h", "min", "s") if language == "en" else ("日", "時間", "分", "秒")
    parts = [(days, units[0]), (hours, units[1]), (minutes, units[2])]
    if seconds < 60:
        parts = [(secs, units[3])]
    shown = [(n, u) for n, u in parts if n][:2] or [(0, units[2])]
    sep = " " if language == "en" else ""
    return sep.join(f"{n}{sep}{u}" for n, u in shown)


def _is_ok(status: str) -> bool:
    return status == "ok"


def percent(share: float | None) -> str:
    if share is None:
        return "-"
    return "100 %" if share >= 1 else f"{min(share * 100, 99.9):.1f} %"


@dataclass(frozen=True)
class NameRow:
    what: str
    fqdn: str
    status: str
    cls: str
    since: str
    lasted: str
    day: str
    week: str
    day_strip: list[str]
    week_strip: list[str]
    detail: str


@dataclass(frozen=True)
class RouterView:
    name: str
    cls: str
    names: list[NameRow]
    findings: list[NameRow]


@dataclass(frozen=True)
class IncidentRow:
    router: str
    what: str
    status: str
    cls: str
    flapping: bool
    flaps: int
    since: str
    opened: str
    resolved: str
    lasted: str
    silenced: bool
    detail: str


@dataclass(frozen=True)
class ActionRow:
    at: str
    router: str
    problem: str
    rung: str
    outcome: str
    cls: str
    detail: str


@dataclass(frozen=True)
class LinkRow:
    ends: str
    seen_from: str
    path: str
    cls: str
    since: str
    backup: str
    down: str
    flaps: int
    strip: list[str]
    detail: str


@dataclass(frozen=True)
class JobRow:
    job: str
    at: str
    outcome: str
    detail: str


@dataclass(frozen=True)
class PinRow:
    router: str
    tunnel: str
    address: str
    peer: str
    fqdn: str
    since: str


@dataclass
class DigestView:
    subject: str
    period: str
    zone: str
    newest: str
    stale: bool
    routers: list[RouterView] = field(default_factory=list)
    new: list[IncidentRow] = field(default_factory=list)
    ongoing: list[IncidentRow] = field(default_factory=list)
    resolved: list[IncidentRow] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    missed: list[JobRow] = field(default_factory=list)
    pins: list[PinRow] = field(default_factory=list)
    problems: int = 0


_OUTCOME_CLASS = {"verified": "ok", "applied": "ok", "no-effect": "warn", "skipped": "warn"}


class _Views:
    def __init__(self, config: Config, data: DigestData, zone: tzinfo, language: Language):
        self.config, self.data, self.zone, self.language = config, data, zone, language
        self.now = data.now
        names = names_to_check(config, config.routers())
        self.fqdns = {(n.router, f"name:{n.family}"): n.fqdn for n in names}
        self.states = {(s.router, s.subject): s for s in data.states}
        self.subjects: dict[str, list[str]] = {}
        for state in data.states:
            if state.status != "ok" and state.subject not in _NAME_SUBJECTS:
                self.subjects.setdefault(state.router, []).append(state.subject)

    def at(self, moment: datetime | None) -> str:
        return "" if moment is None else local_time(moment, self.zone, self.now)

    def span(self, a: datetime, b: datetime | None = None) -> str:
        return duration((b or self.now) - a, self.language)

    def name_row(self, router: str, subject: str) -> NameRow | None:
        state = self.states.get((router, subject))
        if state is None:
            return None
        changes = self.data.changes.get((router, subject), [])
        if not changes:
            changes = [(state.since_at, state.status)]
        day = timeline.segments(changes, self.now - DAY, self.now)
        week = timeline.segments(changes, self.now - WEEK, self.now)
        return NameRow(
            what=clean(what(subject) or subject),
            fqdn=self.fqdns.get((router, subject), ""),
            status=clean(state.status),
            cls=status_class(state.status),
            since=self.at(state.since_at),
            lasted=self.span(state.since_at),
            day=percent(timeline.availability(day, _is_ok)),
            week=percent(timeline.availability(week, _is_ok)),
            day_strip=timeline.strip(day, self.now - DAY, self.now, _CELLS_DAY, status_class),
            week_strip=timeline.strip(week, self.now - WEEK, self.now, _CELLS_WEEK, status_class),
            detail=clean(state.detail or ""),
        )

    def routers(self) -> list[RouterView]:
        out = []
        for name in self.config.inventory.routers:
            rows = [r for s in _NAME_SUBJECTS if (r := self.name_row(name, s)) is not None]
            findings = [
                r
                for subject in self.subjects.get(name, [])
                if (r := self.name_row(name, subject)) is not None
            ]
            classes = [r.cls for r in rows + findings] or ["none"]
            out.append(
                RouterView(clean(name), min(classes, key=timeline.CELL_ORDER.index), rows, findings)
            )
        return out

    def incident(self, inc: Incident) -> IncidentRow:
        state = self.states.get(inc.key)
        return IncidentRow(
            router=clean(inc.router),
            what=clean(what(inc.subject)),
            status=clean(inc.status),
            cls=status_class(inc.status) if inc.resolved_at is None else "ok",
            flapping=inc.kind == "flapping",
            flaps=inc.flaps,
            since=self.at(inc.since_at),
            opened=self.at(inc.opened_at),
            resolved=self.at(inc.resolved_at),
            lasted=self.span(inc.since_at, inc.resolved_at),
            silenced=inc.silenced,
            detail=clean((state.detail if state and inc.resolved_at is None else inc.detail) or ""),
        )

    def links(self) -> list[LinkRow]:
        """The inventory's links, then any other pair the routers' SAs showed."""
        inventory = self.config.inventory
        key_of = {
            r.name: peer_key(inventory.netmeister.fqdn(r.host_label, "ipv4"))
            for r in inventory.routers.values()
        }
        router_of = {key: name for name, key in key_of.items()}
        pairs: list[tuple[str, str]] = [link.peers for link in inventory.links]
        for router, peer in self.data.paths:
            other = router_of.get(peer, peer)
            if not any({router, other} == set(p) for p in pairs):
                pairs.append((router, other))
        out = []
        for a, b in pairs:
            found = [
                (me, self.data.paths[me, key_of.get(other, other)])
                for me, other in ((a, b), (b, a))
                if (me, key_of.get(other, other)) in self.data.paths
            ]
            if found:
                # The end that saw the latest change knows the most recent path.
                me, changes = max(found, key=lambda f: f[1][-1].at)
                out.append(self.link(a, b, me, changes))
        return out

    def link(self, a: str, b: str, me: str, changes: Sequence[PathChange]) -> LinkRow:
        points = [(c.at, c.path) for c in changes]
        period = timeline.segments(points, self.data.since, self.now)
        backup = sum((s.length for s in period if s.status == "ipv4"), timedelta(0))
        down = sum((s.length for s in period if s.status == "down"), timedelta(0))
        last = changes[-1]
        cells = timeline.strip(
            period, self.data.since, self.now, _CELLS_DAY, lambda p: _PATH_CELL.get(p, "crit")
        )
        return LinkRow(
            ends=clean(f"{a} <-> {b}"),
            seen_from=clean(me),
            path=_PATHS[self.language].get(last.path, clean(last.path)),
            cls=_PATH_CELL.get(last.path, "crit"),
            since=self.at(last.at),
            backup=duration(backup, self.language),
            down=duration(down, self.language),
            flaps=timeline.changes_within(points, self.data.since),
            strip=cells,
            detail=clean(last.detail or ""),
        )


def _subject_line(problems: Sequence[tuple[str, str]], routers: int, language: Language) -> str:
    """``[nmops] 1 problem: ix2215-kagawa AAAA missing since 03:12`` (``problems``: the
    gist of each, English and Japanese)."""
    if not problems:
        if language == "en":
            return f"[nmops] daily report: all well ({routers} routers)"
        return f"[nmops] 日次レポート: 異常なし (ルーター {routers} 台)"
    n = len(problems)
    first = problems[0][0 if language == "en" else 1]
    if language == "en":
        line = f"[nmops] {n} problem{'s' if n > 1 else ''}: {first}"
        line += f", +{n - 1} more" if n > 1 else ""
    else:
        line = f"[nmops] 問題 {n} 件: {first}" + (f" ほか {n - 1} 件" if n > 1 else "")
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1] + "…"


def _gist(router: str, subject: str, status: str, since_at: datetime, zone: tzinfo,
          now: datetime) -> tuple[str, str]:  # fmt: skip
    text = " ".join(clean(p) for p in (router, what(subject), status) if p)
    since = local_time(since_at, zone, now)
    return f"{text} since {since}", f"{text} ({since} から)"


def _problems(config: Config, data: DigestData) -> list[tuple[str, str, str, datetime]]:
    """What is wrong now, worst first: the open incidents, and the subjects bad for
    ``confirm_after`` checks that have none (nobody ran the incident update: a cron-driven
    `nmops check` without `nmops serve`)."""
    found = [
        (i.router, i.subject, "flapping" if i.kind == "flapping" else i.status, i.since_at)
        for i in data.incidents
        if i.is_open
    ]
    covered = {(r, s) for r, s, _, _ in found}
    confirm = config.settings.policy.confirm_after
    found += [
        (s.router, s.subject, s.status, s.since_at)
        for s in data.states
        if s.status != "ok" and s.count >= confirm and (s.router, s.subject) not in covered
        and s.router in config.inventory.routers
    ]  # fmt: skip
    order = {"crit": 0, "warn": 1, "ok": 2}
    return sorted(found, key=lambda p: (order.get(status_class(p[2]), 0), p[3]))


def digest_view(config: Config, data: DigestData, language: Language) -> DigestView:
    """The digest's values (pure)."""
    zone = config.settings.policy.zone
    views = _Views(config, data, zone, language)
    now = data.now
    stale = data.newest is None or now - data.newest > STALE_DATA
    newest = (
        "-"
        if data.newest is None
        else f"{views.at(data.newest)} ({duration(now - data.newest, language)}"
        + (" ago)" if language == "en" else "前)")
    )
    gists = [_gist(*p, zone, now) for p in _problems(config, data)]
    if stale:
        when = views.at(data.newest) if data.newest else ""
        gists.insert(
            0,
            (f"no check since {when}", f"{when} 以降チェックなし")
            if data.newest
            else ("no check recorded", "チェックの記録なし"),
        )
    period = f"{views.at(data.since)} - {views.at(now)}"
    view = DigestView(
        subject=_subject_line(gists, len(config.inventory.routers), language),
        period=period,
        zone=str(getattr(zone, "key", zone)),
        newest=newest,
        stale=stale,
        problems=len(gists),
    )
    view.routers = views.routers()
    for inc in data.incidents:
        row = views.incident(inc)
        if inc.resolved_at is not None:
            view.resolved.append(row)
        elif inc.opened_at is not None and inc.opened_at >= data.since:
            view.new.append(row)
        else:
            view.ongoing.append(row)
    view.actions = [
        ActionRow(
            at=views.at(a.created_at),
            router=clean(a.router),
            problem=clean(what(a.problem) or a.problem),
            rung=clean(a.rung),
            outcome=clean(a.outcome),
            cls=_OUTCOME_CLASS.get(a.outcome, "crit"),
            detail=clean(a.detail or a.why),
        )
        for a in data.actions
    ]
    view.links = views.links()
    view.missed = [
        JobRow(clean(j.job), views.at(j.scheduled_at), clean(j.outcome), clean(j.detail or ""))
        for j in data.missed
    ]
    view.pins = [
        PinRow(
            clean(p.router),
            clean(p.tunnel),
            clean(p.address),
            clean(p.peer),
            clean(p.fqdn),
            views.at(p.pinned_at),
        )
        for p in data.pins
    ]
    return view


@cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.PackageLoader("nmops.report", "templates")
    text = jinja2.Environment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = jinja2.Environment(
        loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True
    )
    return text, html


_TEXT_CELLS = {"ok": ".", "warn": "-", "crit": "X", "none": " "}


def render_digest(view: DigestView, language: Language) -> Message:
    text_env, html_env = _environments()
    context: dict[str, Any] = {"d": view, "cells": _TEXT_CELLS}
    text = text_env.get_template(f"digest.{language}.txt").render(context)
    html = html_env.get_template(f"digest.{language}.html").render(context)
    return Message(
        subject=view.subject,
        text=text,
        html=css_inline.inline(html, load_remote_stylesheets=False),
    )


def build_digest(
    store: Store, config: Config, *, since: datetime, now: datetime, language: Language
) -> Message:
    """The digest of ``since`` .. ``now`` (availability: the last 24 h and 7 days)."""
    data = read(store, since=since, now=now, start=now - WEEK)
    return render_digest(digest_view(config, data, language), language)
