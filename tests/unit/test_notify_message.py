"""Alert mails as values: the subject's gist, both languages, text + HTML, headers that no
router text can break."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default
from zoneinfo import ZoneInfo

import pytest

from nmops.notify.events import Event, Message
from nmops.notify.message import alert_message, gist, message_id, mime, subject_line, what

TOKYO = ZoneInfo("Asia/Tokyo")
AT = datetime(2026, 12, 2, 18, 40, tzinfo=UTC)  # 03:40 in Tokyo
SINCE = datetime(2026, 12, 2, 18, 12, tzinfo=UTC)  # 03:12 in Tokyo


def event(kind: str = "open", **over: object) -> Event:
    values: dict[str, object] = {
        "kind": kind,
        "router": "ix2215-kagawa",
        "subject": "name:ipv6",
        "status": "missing",
        "detail": "no AAAA at any server",
        "at": AT,
        "since": SINCE,
    }
    values.update(over)
    return Event(**values)  # type: ignore[arg-type]


def parse(mail: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(bytes(mail), policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    ("subject", "said"),
    [
        ("name:ipv6", "AAAA"),
        ("name:ipv4", "A"),
        ("peer:Tunnel1.0", "Tunnel1.0"),
        ("finding:peer-stale:Tunnel2.0", "Tunnel2.0"),
        ("finding:unsaved", ""),
        ("router", ""),
    ],
)
def test_what_a_subject_key_names(subject: str, said: str) -> None:
    assert what(subject) == said


def test_subject_states_the_gist_in_local_time() -> None:
    assert subject_line([event()], TOKYO, "en") == (
        "[nmops] 1 problem: ix2215-kagawa AAAA missing since 03:12"
    )
    assert subject_line([event()], TOKYO, "ja") == (
        "[nmops] 問題 1 件: ix2215-kagawa AAAA missing (03:12 から)"
    )


def test_subject_counts_problems_first_then_resolved() -> None:
    events = [
        event("resolve", router="ix2215-tokyo", subject="name:ipv4", status="ok"),
        event(),
        event("remind", subject="peer:Tunnel1.0", status="peer-stale"),
    ]
    line = subject_line(events, TOKYO, "en")
    assert line.startswith("[nmops] 2 problems, 1 resolved: ix2215-kagawa AAAA missing since")
    assert line.endswith(", +2 more")
    assert subject_line([event("test")], TOKYO, "en") == "[nmops] test alert"


def test_a_problem_that_began_on_another_day_shows_the_date() -> None:
    old = event(since=datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    assert gist(old, TOKYO, "en").endswith("since 11-30 10:00")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_alert_has_text_and_inlined_html(language: str) -> None:
    message = alert_message(
        [event(), event("resolve", router="ix2215-tokyo", subject="name:ipv4", status="ok")],
        language=language,  # type: ignore[arg-type]
        zone=TOKYO,
    )
    for body in (message.text, message.html or ""):
        assert "ix2215-kagawa" in body and "ix2215-tokyo" in body
        assert "no AAAA at any server" in body
        assert "Asia/Tokyo" in body
    html = message.html or ""
    assert "<style" not in html and 'style="' in html  # inlined for mail clients
    assert ("発生" in message.text) == (language == "ja")
    assert ("problem" in message.text) == (language == "en")


def test_router_text_is_escaped_in_html_and_cannot_break_lines() -> None:
    hostile = event(detail="<script>alert(1)</script>\r\nBcc: victim@example.net")
    message = alert_message([hostile], language="en", zone=TOKYO)
    assert "<script>" not in (message.html or "")
    assert "&lt;script&gt;" in (message.html or "")
    assert "\r" not in message.text and "Bcc: victim" in message.text  # shown, escaped
    assert "\\r\\nBcc" in message.text


def test_mime_is_multipart_with_rfc2047_japanese_subject() -> None:
    message = alert_message([event()], language="ja", zone=TOKYO)
    mail = mime(
        message,
        sender="nmops <nmops@example.net>",
        recipient="ops@example.net",
        date=AT,
        msgid=message_id("alert:run-1:mail:ops@example.net", "nmops@example.net"),
    )
    raw = bytes(mail)
    assert raw.isascii()  # every header encoded, the bodies base64 or quoted-printable
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "=?utf-8?" in header
    parsed = parse(mail)
    assert str(make_header(decode_header(parsed["Subject"]))) == message.subject
    assert parsed["Subject"] == message.subject
    assert parsed["Message-ID"].endswith(".nmops@example.net>")
    assert parsed["Date"] == "Wed, 02 Dec 2026 18:40:00 +0000"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    assert "要対応" not in text.get_content() and "発生" in text.get_content()
    assert "ix2215-kagawa" in html.get_content()


def test_message_id_is_stable_for_a_key() -> None:
    assert message_id("k", "a@example.net") == message_id("k", "b@example.net".replace("b", "a"))
    assert message_id("k", "a@example.net") != message_id("k2", "a@example.net")


@pytest.mark.parametrize(
    "headers",
    [{"Bcc": "x@example.net"}, {"X-Bad Name": "v"}, {"Subject": "again"}],
)
def test_a_message_cannot_set_the_senders_headers(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="cannot be set"):
        mime(
            Message(subject="s", text="t", headers=headers),
            sender="a@example.net",
            recipient="b@example.net",
            date=AT,
            msgid="<x@example.net>",
        )


def test_crlf_in_a_subject_or_header_value_never_makes_a_header() -> None:
    message = Message(
        subject="digest\r\nBcc: victim@example.net", text="t", headers={"X-Run": "1\nBcc: v"}
    )
    mail = mime(
        message, sender="a@example.net", recipient="b@example.net", date=AT, msgid="<x@e.net>"
    )
    parsed = parse(mail)
    assert parsed["Bcc"] is None
    assert "\n" not in parsed["Subject"] and "\n" not in parsed["X-Run"]
