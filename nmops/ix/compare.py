"""Is the running config saved? Compare running and startup configs block-aware, order-free."""

from __future__ import annotations

from nmops.ix.configtree import parse_config
from nmops.ix.dialect import clean_output

ConfigLines = frozenset[tuple[str | None, str]]


def normalise_config(text: str) -> ConfigLines:
    """Every config line as ``(block header or None, line)``, as a set.

    The `!` header (firmware, `Current time`) goes, and so do prompts and echoed commands.
    Order does not count, so the same config printed in another order still compares equal.
    """
    return frozenset(parse_config("\n".join(clean_output(text))).lines())


def config_saved(running_text: str, startup_text: str) -> bool:
    """True when `show running-config` and the startup config say the same thing."""
    return normalise_config(running_text) == normalise_config(startup_text)
