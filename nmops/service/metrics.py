"""Prometheus metrics read from the state database at scrape time, and `/healthz`.

Reading at scrape time keeps `nmops serve` stateless between runs (a restart loses nothing)
and makes the numbers the ones `nmops history` shows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nmops.service.answers import LastAnswers
from nmops.state import Store
from nmops.state.schema import actions, incidents, job_runs, outbox, runs, subjects


class StateCollector(Collector):
    def __init__(
        self, store: Store, alive: Callable[[], bool], answers: LastAnswers | None = None
    ) -> None:
        self.store = store
        self.alive = alive
        self.answers = answers

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("nmops_scheduler_up", "1 when the scheduler thread is alive")
        up.add_metric([], 1.0 if self.alive() else 0.0)
        yield up
        if self.answers is not None:
            yield self._answers(self.answers)
        with self.store.read() as conn:
            yield from self._subjects(conn)
            yield from self._runs(conn)
            open_count = conn.execute(
                sa.select(sa.func.count())
                .select_from(incidents)
                .where(incidents.c.opened_at.is_not(None), incidents.c.resolved_at.is_(None))
            ).scalar_one()
            gauge = GaugeMetricFamily("nmops_open_incidents", "Incidents open now")
            gauge.add_metric([], float(open_count))
            yield gauge
            yield self._grouped(
                conn, "nmops_actions", "Actions by rung and outcome", actions,
                [actions.c.rung, actions.c.outcome], ["rung", "outcome"],
            )  # fmt: skip
            yield self._grouped(
                conn, "nmops_job_runs", "Job runs by job and outcome", job_runs,
                [job_runs.c.job, job_runs.c.outcome], ["job", "outcome"],
            )  # fmt: skip
            depth = conn.execute(
                sa.select(sa.func.count())
                .select_from(outbox)
                .where(outbox.c.state.in_(("pending", "sending")))
            ).scalar_one()
            gauge = GaugeMetricFamily("nmops_outbox_depth", "Mail and webhooks waiting")
            gauge.add_metric([], float(depth))
            yield gauge

    def _subjects(self, conn: sa.Connection) -> Iterable[Metric]:
        status = GaugeMetricFamily(
            "nmops_subject_ok",
            "1 when the subject (a DDNS name, a tunnel, the router) was ok at the last check",
            labels=["router", "subject", "status"],
        )
        for row in conn.execute(
            sa.select(subjects.c.router, subjects.c.subject, subjects.c.status)
        ):
            status.add_metric(
                [row.router, row.subject, row.status], 1.0 if row.status == "ok" else 0.0
            )
        yield status

    @staticmethod
    def _answers(answers: LastAnswers) -> Metric:
        gauge = GaugeMetricFamily(
            "nmops_dns_answer_ok",
            "1 when the server's answer for the name was ok at the last check this service ran",
            labels=["router", "name", "server", "status"],
        )
        for a in answers.all():
            gauge.add_metric(
                [a.router, a.name, a.server, a.status], 1.0 if a.status == "ok" else 0.0
            )
        return gauge

    def _runs(self, conn: sa.Connection) -> Iterable[Metric]:
        last = conn.execute(
            sa.select(runs.c.started_at, runs.c.finished_at)
            .where(runs.c.kind == "check", runs.c.finished_at.is_not(None))
            .order_by(runs.c.id.desc())
            .limit(1)
        ).first()
        when = GaugeMetricFamily("nmops_last_check_timestamp_seconds", "When the last check ended")
        took = GaugeMetricFamily("nmops_last_check_duration_seconds", "How long it took")
        if last is not None:
            when.add_metric([], last.finished_at.timestamp())
            took.add_metric([], (last.finished_at - last.started_at).total_seconds())
        yield when
        yield took

    @staticmethod
    def _grouped(
        conn: sa.Connection,
        name: str,
        text: str,
        table: sa.Table,
        columns: list[sa.Column[Any]],
        labels: list[str],
    ) -> Metric:
        counter = CounterMetricFamily(name, text, labels=labels)
        query = sa.select(*columns, sa.func.count()).group_by(*columns)
        for *values, count in conn.execute(query):
            counter.add_metric([str(v) for v in values], float(count))
        return counter


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
        pass


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class MetricsServer:
    """`/metrics` and `/healthz` on ADDR:PORT, on a thread of its own."""

    def __init__(
        self,
        host: str,
        port: int,
        store: Store,
        healthy: Callable[[], bool],
        answers: LastAnswers | None = None,
    ) -> None:
        registry = CollectorRegistry()
        registry.register(StateCollector(store, healthy, answers))
        metrics = make_wsgi_app(registry)

        def app(environ: dict[str, Any], start: Any) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/healthz":
                ok = healthy()
                start(
                    "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")]
                )
                return [b"ok\n" if ok else b"scheduler not running\n"]
            return metrics(environ, start)  # type: ignore[no-any-return]

        self.server = make_server(host, port, app, server_class=_Threading, handler_class=_Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fresh(beat: Callable[[], float], limit: float) -> Callable[[], bool]:
    """Healthy while the heartbeat is younger than ``limit`` seconds."""
    return lambda: time.monotonic() - beat() < limit
