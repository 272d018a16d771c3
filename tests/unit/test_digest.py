"""The daily digest from a real state database (SQLite, Store) with a frozen clock: both
languages, text and HTML, what it must say, and nothing it must not (secrets, markup)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from nmops.config.load import Config, load_config
from nmops.config.notify import Language
from nmops.incidents import update
from nmops.linkpaths import PathSample, record_paths
from nmops.notify.events import Message
from nmops.report.digest import build_digest, digest_view, duration
from nmops.report.digest_data import read
from nmops.state import Observed, Store, add_action, record_run, set_outcome, start_run
from nmops.state.pins import add_pin
from nmops.state.schema import job_runs
from tests.unit import test_state_store as base

state_url = base.state_url
store = base.store

GOOD = Path(__file__).resolve().parent.parent / "data" / "config" / "good"
SECRETS = GOOD / "secrets"
A, B = "ix2215-tokyo", "ix2215-kagawa"
# 2025-03-08 03:00 UTC = 12:00 in Tokyo; the data begins a week earlier.
NOW = datetime(2025, 3, 8, 3, 0, tzinfo=UTC)
KAGAWA_PEER = "kagawa-gw.fetburner.nmddns.jp"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def clock() -> base.FakeClock:
    return base.FakeClock(NOW - timedelta(days=7))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "nmops.yaml"
    path.write_text(
        f"inventory: {GOOD / 'inventory.yaml'}\npolicy: {{timezone: Asia/Tokyo}}\n",
        encoding="utf-8",
    )
    return load_config(path)


def check(
    store: Store, config: Config, aaaa: str, path: str, detail: str | None = None
) -> list[object]:
    run_id = start_run(store, "check", 2)
    record_run(
        store,
        run_id,
        [
            Observed(A, "name:ipv4", "ok"),
            Observed(A, "name:ipv6", "ok"),
            Observed(B, "name:ipv6", aaaa, detail),
            Observed(B, "router", "ok"),
        ],
        routers=(A, B),
    )
    record_paths(store, run_id, [PathSample(A, KAGAWA_PEER, path, f"{path} SA")])
    return list(update(store, config, run_id))


@pytest.fixture
def history(store: Store, clock: base.FakeClock, config: Config) -> Store:
    """A week of hourly checks: kagawa's AAAA went missing 9 h ago (the link fell back to
    IPv4), a reregister did not help; tokyo's names were fine throughout."""
    while clock.now < NOW - timedelta(hours=9):
        check(store, config, "ok", "ipv6")
        clock.advance(3600)
    while clock.now <= NOW:
        check(store, config, "missing", "ipv4", f"NODATA {HOSTILE}")
        if clock.now == NOW - timedelta(hours=5):
            run_id = start_run(store, "fix", 1)
            action = add_action(
                store,
                run_id=run_id,
                router=B,
                problem="name:ipv6",
                rung="reregister",
                commands=["nm ddns notify ipv6 GigaEthernet2.0"],
                why="AAAA missing in 2 checks",
            )
            set_outcome(store, action, "no-effect", "DNS still has no AAAA after 300 s")
            add_pin(
                store,
                router=A,
                tunnel="Tunnel1.0",
                peer=B,
                family="ipv6",
                address="2001:db8:20::1",
                fqdn="kagawa-gw.fetburner.v6.nmddns.jp",
                reason="AAAA missing",
            )
            with store.begin() as conn:
                conn.execute(
                    sa.insert(job_runs).values(
                        job="ddns-watch",
                        scheduled_at=clock.now,
                        outcome="missed",
                        detail="the previous run was still going",
                    )
                )
        clock.advance(3600)
    clock.now = NOW
    return store


def digest(store: Store, config: Config, language: Language) -> Message:
    since = NOW - timedelta(hours=24)
    return build_digest(store, config, since=since, now=NOW, language=language)


def test_english_digest_says_what_is_wrong_and_since_when(history: Store, config: Config) -> None:
    message = digest(history, config, "en")
    assert message.subject == "[nmops] 1 problem: ix2215-kagawa AAAA missing since 03:00"
    text = message.text
    assert "Period: 03-07 12:00 - 12:00 (Asia/Tokyo)" in text
    assert "Newest data: 12:00 (0 min ago)" in text
    assert "AAAA missing since 03:00 (9 h)" in text
    # 9 of the last 24 hours bad: 62.5 %; 9 of the 168 hours of the week: 94.6 %.
    assert "24 h 62.5 %, 7 d 94.6 %" in text
    assert "24 h [" + "." * 15 + "X" * 9 + "]" in text
    assert "A ok since" in text  # tokyo
    assert "New:" in text and "ix2215-kagawa AAAA missing" in text
    assert "ix2215-tokyo <-> ix2215-kagawa: IPv4 backup since 03:00" in text
    assert "on backup 9 h, down 0 min, 1 path changes" in text
    assert "name:ipv6" not in text.split("== Actions ==")[1].split("==")[0]
    assert "ix2215-kagawa AAAA: reregister -> no-effect (DNS still has no AAAA after 300 s)" in text
    assert "ix2215-tokyo Tunnel1.0 -> 2001:db8:20::1" in text
    assert "ddns-watch: missed (the previous run was still going)" in text


def test_japanese_digest(history: Store, config: Config) -> None:
    message = digest(history, config, "ja")
    assert message.subject == "[nmops] 問題 1 件: ix2215-kagawa AAAA missing (03:00 から)"
    text = message.text
    assert "対象期間:" in text and "== インシデント ==" in text and "新規:" in text
    assert "AAAA missing (03:00 から 9時間); 24 時間 62.5 %、7 日間 94.6 %" in text
    assert "IPv4 バックアップ (03:00 から" in text and "バックアップ経由 9時間" in text
    assert message.html is not None and 'lang="ja"' in message.html
    assert "インシデント" in message.html


@pytest.mark.parametrize("language", ["en", "ja"])
def test_html_is_escaped_inlined_and_uses_table_cells(
    history: Store, config: Config, language: Language
) -> None:
    message = digest(history, config, language)
    html = message.html
    assert html is not None
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert "<style" not in html  # inlined for mail clients
    assert "<img" not in html
    cells = re.findall(r'<td class="cell c-(ok|warn|crit|none)"', html)
    # Per name: 24 + 28 cells (tokyo A and AAAA, kagawa AAAA and router); the link: 24.
    assert len(cells) == 4 * (24 + 28) + 24
    assert "background: #c62828" in html or "background:#c62828" in html


@pytest.mark.parametrize("language", ["en", "ja"])
def test_no_secret_in_the_digest(history: Store, config: Config, language: Language) -> None:
    message = digest(history, config, language)
    for secret_file in SECRETS.iterdir():
        secret = secret_file.read_text(encoding="utf-8").strip()
        assert secret and secret not in message.text and secret not in (message.html or "")
    assert "password" not in message.text.lower()


def test_all_well_and_stale_data(store: Store, clock: base.FakeClock, config: Config) -> None:
    check(store, config, "ok", "ipv6")
    message = build_digest(store, config, since=clock.now - timedelta(hours=24), now=clock.now,
                           language="en")  # fmt: skip
    assert message.subject == "[nmops] daily report: all well (2 routers)"
    later = clock.now + timedelta(hours=3)
    message = build_digest(store, config, since=later - timedelta(hours=24), now=later,
                           language="en")  # fmt: skip
    assert message.subject.startswith("[nmops] 1 problem: no check since ")
    assert "is nmops still running?" in message.text


def test_an_empty_database(store: Store, config: Config) -> None:
    data = read(store, since=NOW - timedelta(days=1), now=NOW, start=NOW - timedelta(days=7))
    view = digest_view(config, data, "ja")
    assert view.subject == "[nmops] 問題 1 件: チェックの記録なし"
    assert view.links == [] and view.actions == [] and view.pins == []


@pytest.mark.parametrize(
    ("seconds", "en", "ja"),
    [
        (30, "30 s", "30秒"),
        (45 * 60, "45 min", "45分"),
        (3 * 3600 + 12 * 60, "3 h 12 min", "3時間12分"),
        (2 * 86400 + 4 * 3600 + 5, "2 d 4 h", "2日4時間"),
        (3600, "1 h", "1時間"),
    ],
)
def test_durations(seconds: int, en: str, ja: str) -> None:
    assert duration(timedelta(seconds=seconds), "en") == en
    assert duration(timedelta(seconds=seconds), "ja") == ja


def test_problems_without_incidents_still_make_the_subject(
    store: Store, clock: base.FakeClock, config: Config
) -> None:
    # A cron-driven `nmops check` records runs but nobody applies them to incidents.
    for status in ("ok", "missing", "missing"):
        run_id = start_run(store, "check", 1)
        record_run(store, run_id, [Observed(B, "name:ipv6", status)], routers=(B,))
        clock.advance(300)
    message = build_digest(store, config, since=clock.now - timedelta(hours=24), now=clock.now,
                           language="en")  # fmt: skip
    assert message.subject == "[nmops] 1 problem: ix2215-kagawa AAAA missing since 12:05"


def test_other_findings_are_listed_under_their_router(
    store: Store, clock: base.FakeClock, config: Config
) -> None:
    run_id = start_run(store, "check", 1)
    found = Observed(A, "finding:peer-stale:Tunnel1.0", "peer-stale", "SA uses 2001:db8::9")
    record_run(store, run_id, [found], routers=(A,))
    message = build_digest(store, config, since=clock.now - timedelta(hours=24), now=clock.now,
                           language="en")  # fmt: skip
    assert "  Tunnel1.0 peer-stale since 12:00 (0 min)" in message.text
    assert "SA uses 2001:db8::9" in message.text
