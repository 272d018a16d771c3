"""Telling people: alerts and digests as messages, an outbox in the state database, and the
senders that empty it (SMTP, webhooks).

Every message is queued first (``nmops.notify.queue``) and sent later by whoever runs
``deliver_pending`` (``nmops serve``, ``nmops outbox --flush``, ``nmops report --send``), so a
mail server that is down delays mail and never loses it.
"""
