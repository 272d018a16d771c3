"""``nmops fix`` output (pure): the plan as a table and as a JSON document (``nmops.plan/1``),
and the outcome of an applied plan. Every command is shown with its secrets masked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from nmops.ix.masking import mask_line
from nmops.plan import Plan, Step
from nmops.report.check_text import plain

if TYPE_CHECKING:
    from nmops.apply import StepResult
    from nmops.state import Event

PLAN_SCHEMA = "nmops.plan/1"


def commands(step: Step) -> list[str]:
    """What the step types, in its blocks, masked: `interface Tunnel1.0 > shutdown`."""
    return [mask_line(" > ".join((*e.context, e.line))) for e in step.edits]


def plan_table(plan: Plan) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("router", "problem", "step", "commands", "why", "blocked by"):
        table.add_column(column, overflow="fold")
    previous: str | None = None
    for step in plan.steps:
        first = step.router != previous
        previous = step.router
        rung = Text(("" if first else "then ") + step.rung.value)
        if step.blocked:
            rung.stylize("dim")
        table.add_row(
            plain(step.router if first else ""),
            plain(", ".join(step.problems)),
            rung,
            plain("\n".join(commands(step)) or "-"),
            plain(step.why),
            Text("\n".join(step.blocked), style="yellow") if step.blocked else Text(""),
        )
    return table


def plan_summary(plan: Plan) -> Text:
    if not plan.steps and not plan.waiting:
        return Text("nothing to repair", style="green")
    text = Text(f"plan {plan.id}: ", style="bold")
    acting = sum(1 for s in plan.steps if s.rung.acts and not s.blocked)
    routers = len({s.router for s in plan.steps})
    text.append(f"{len(plan.steps)} steps on {routers} routers, {acting} that act")
    if plan.waiting:
        waits = ", ".join(
            f"{w.router} {w.problem} (seen {w.seen} of {w.needed})" for w in plan.waiting
        )
        text.append(f"; waiting for confirmation: {waits}")
    return text


def step_document(step: Step) -> dict[str, Any]:
    return {
        "router": step.router,
        "problems": list(step.problems),
        "step": step.rung.value,
        "acts": step.rung.acts,
        "commands": commands(step),
        "saves": step.saves,
        "waits_for": step.waits_for,
        "why": step.why,
        "blocked": list(step.blocked),
        "tunnel": step.tunnel,
    }


def plan_document(plan: Plan, *, applied: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "schema": PLAN_SCHEMA,
        "plan": plan.id,
        "steps": [step_document(s) for s in plan.steps],
        "waiting": [
            {"router": w.router, "problem": w.problem, "seen": w.seen, "needed": w.needed}
            for w in plan.waiting
        ],
        "applied": applied,
    }


def applied_rows(results: Sequence[StepResult]) -> list[dict[str, Any]]:
    return [
        {
            "router": r.step.router,
            "step": r.step.rung.value,
            "problems": list(r.step.problems),
            "outcome": r.outcome,
            "detail": r.detail,
            "cured": list(r.cured),
        }
        for r in results
    ]


_OUTCOME_STYLE = {"verified": "green", "lost": "bold red", "failed": "red", "undone": "yellow"}


def applied_table(results: Sequence[StepResult]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("router", "step", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            plain(r.step.router),
            plain(r.step.rung.value),
            Text(r.outcome, style=_OUTCOME_STYLE.get(r.outcome, "")),
            plain(r.detail),
        )
    return table


def history_table(events: Sequence[Event], zone: tzinfo) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("when", "router", "what", "subject", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for e in events:
        table.add_row(
            plain(e.at.astimezone(zone).strftime("%m-%d %H:%M:%S")),
            plain(e.router),
            plain(e.what if e.kind == "transition" else f"step {e.what}"),
            plain(e.subject or ""),
            Text(e.outcome or "", style=_OUTCOME_STYLE.get(e.outcome or "", "")),
            plain(e.detail or ""),
        )
    return table
