"""After a recorded check run: incidents move on, and what is worth telling is queued and sent.

`nmops check` (from cron) and `nmops serve`'s check jobs both end here, so a setup without
`serve` gets the same incidents and alerts. An incident update is applied once per run (the
incidents remember the last run applied), so two callers for one run tell nothing twice.
Mail that cannot go now waits in the outbox; it never changes the check's own verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from nmops.config.load import Config
from nmops.notify.deliver import Delivery
from nmops.notify.events import Event
from nmops.state import Store


@dataclass(frozen=True)
class Alerted:
    events: tuple[Event, ...]
    queued: int  # outbox rows written
    delivery: Delivery | None  # None: nothing was sent this time (nothing due, no channel)


def channels(config: Config) -> bool:
    """Whether anything would carry an alert (a mail server, a webhook)."""
    return config.settings.mail is not None or bool(config.settings.notify.webhooks)


def after_check(store: Store, config: Config, run_id: int, *, deliver: bool = True) -> Alerted:
    from nmops.incidents import update
    from nmops.notify.deliver import deliver_pending
    from nmops.notify.queue import queue_alerts

    events = update(store, config, run_id)
    queued = 0
    if events and channels(config):
        queued = queue_alerts(store, config.settings, events, run_key=f"run:{run_id}")
    delivery = deliver_pending(store, config.settings) if deliver and channels(config) else None
    return Alerted(tuple(events), queued, delivery)
