"""Healthchecks-style pings: URL/start, URL (success), URL/EXIT (failure). Never fatal: a
monitoring service that is down must not stop the job it watches."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
TIMEOUT = 5.0


def ping(url: str, suffix: str) -> bool:
    import requests

    target = f"{url}/{suffix}" if suffix else url
    try:
        response = requests.post(target, timeout=TIMEOUT)
    except requests.RequestException as exc:
        log.warning("ping %s failed: %s", suffix or "success", type(exc).__name__)
        return False
    if response.status_code >= 400:
        log.warning("ping %s answered %d", suffix or "success", response.status_code)
        return False
    return True
