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
    # Exact: a new code is a deliberate change that must be added here (and to SEVERITY).
    assert {s.value for s in Status} == {
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
        "peer-stale",
        "no-address",
        "unreachable",
        "unsaved",
        "locked",
        "ddns-config",
        "nm-failed",
        "lost",
    }


# Every status: (severity alone, severity when some server did not answer). A status missing
# here fails test_severity_of_every_status, so a new code cannot slip in without a decision.
SEVERITY: dict[Status, tuple[ExitCode, ExitCode]] = {
    Status.OK: (OK, WARNING),  # some server did not answer: a warning even if the rest agree
    Status.MISSING: (CRITICAL, CRITICAL),
    Status.NXDOMAIN: (CRITICAL, CRITICAL),
    Status.STALE: (CRITICAL, CRITICAL),
    Status.BOGUS: (CRITICAL, CRITICAL),
    Status.DISAGREE: (WARNING, WARNING),
    Status.SERVFAIL: (UNKNOWN, UNKNOWN),
    Status.REFUSED: (UNKNOWN, UNKNOWN),
    Status.TIMEOUT: (UNKNOWN, UNKNOWN),
    Status.LAME: (UNKNOWN, UNKNOWN),
    Status.ERROR: (UNKNOWN, UNKNOWN),
    Status.PEER_STALE: (CRITICAL, CRITICAL),
    Status.NO_ADDRESS: (CRITICAL, CRITICAL),
    Status.UNREACHABLE: (WARNING, WARNING),
    Status.UNSAVED: (WARNING, WARNING),
    Status.LOCKED: (WARNING, WARNING),
    Status.DDNS_CONFIG: (WARNING, WARNING),
    Status.NM_FAILED: (WARNING, WARNING),
    Status.LOST: (CRITICAL, CRITICAL),
}


@pytest.mark.parametrize("status", list(Status), ids=[s.value for s in Status])
def test_severity_of_every_status(status: Status) -> None:
    assert status in SEVERITY, f"no expected severity for {status.value!r}: add it to SEVERITY"
    alone, partial = SEVERITY[status]
    assert severity(status) is alone
    assert severity(status, partial=False) is alone
    assert severity(status, partial=True) is partial


def test_severity_table_has_no_stale_entries() -> None:
    assert set(SEVERITY) == set(Status)


# Server failures: no usable answer. Everything else (bad news included) is an answer.
SERVER_FAILURES = {Status.SERVFAIL, Status.REFUSED, Status.TIMEOUT, Status.LAME, Status.ERROR}


@pytest.mark.parametrize("status", list(Status), ids=[s.value for s in Status])
def test_server_failure(status: Status) -> None:
    assert status.is_server_failure is (status in SERVER_FAILURES)


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
