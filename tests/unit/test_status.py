"""Status codes -> monitoring-plugin exit codes; CRITICAL > UNKNOWN > WARNING > OK."""

from __future__ import annotations

import pytest

from nmops.status import ExitCode, Status, severity, worst

OK, WARNING, CRITICAL, UNKNOWN = (
    ExitCode.OK,
    ExitCode.WARNING,
    ExitCode.CRITICAL,
    ExitCode.UNKNOWN,
)


def test_exit_code_values_are_the_plugin_convention() -> None:
    assert [int(c) for c in (OK, WARNING, CRITICAL, UNKNOWN)] == [0, 1, 2, 3]
    assert [c.label for c in (OK, WARNING, CRITICAL, UNKNOWN)] == [
        "ok",
        "warning",
        "critical",
        "unknown",
    ]


def test_status_values_are_stable() -> None:
    # These strings are in JSON documents, mails and the database: renaming one breaks users.
    # (New codes may be added; none of these may change.)
    assert {s.value for s in Status} >= {
        "ok",
        "missing",
        "nxdomain",
        "stale",
        "bogus",
        "disagree",
        "servfail",
        "refused",
        "timeout",
        "lame",
        "error",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (Status.OK, OK),
        (Status.DISAGREE, WARNING),
        (Status.MISSING, CRITICAL),
        (Status.NXDOMAIN, CRITICAL),
        (Status.STALE, CRITICAL),
        (Status.BOGUS, CRITICAL),
        (Status.SERVFAIL, UNKNOWN),
        (Status.REFUSED, UNKNOWN),
        (Status.TIMEOUT, UNKNOWN),
        (Status.LAME, UNKNOWN),
        (Status.ERROR, UNKNOWN),
    ],
)
def test_severity(status: Status, code: ExitCode) -> None:
    assert severity(status) is code


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (Status.OK, WARNING),  # some server did not answer: a warning even if the rest agree
        (Status.DISAGREE, WARNING),
        (Status.MISSING, CRITICAL),
        (Status.STALE, CRITICAL),
        (Status.TIMEOUT, UNKNOWN),
    ],
)
def test_severity_partial(status: Status, code: ExitCode) -> None:
    assert severity(status, partial=True) is code


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (Status.OK, False),
        (Status.MISSING, False),
        (Status.NXDOMAIN, False),
        (Status.STALE, False),
        (Status.BOGUS, False),
        (Status.DISAGREE, False),
        (Status.SERVFAIL, True),
        (Status.REFUSED, True),
        (Status.TIMEOUT, True),
        (Status.LAME, True),
        (Status.ERROR, True),
    ],
)
def test_server_failure(status: Status, failure: bool) -> None:
    assert status.is_server_failure is failure


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([], OK),
        ([OK], OK),
        ([OK, OK], OK),
        ([OK, WARNING], WARNING),
        ([WARNING, OK], WARNING),
        ([WARNING, UNKNOWN], UNKNOWN),
        ([UNKNOWN, WARNING], UNKNOWN),
        ([UNKNOWN, CRITICAL], CRITICAL),  # CRITICAL outranks UNKNOWN, though 2 < 3
        ([CRITICAL, UNKNOWN], CRITICAL),
        ([OK, WARNING, CRITICAL, UNKNOWN], CRITICAL),
        ((UNKNOWN, OK), UNKNOWN),
    ],
)
def test_worst(codes: list[ExitCode], expected: ExitCode) -> None:
    assert worst(codes) is expected
