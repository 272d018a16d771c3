"""The intent rendered to IX config text through the Jinja2 templates (pure but for reading
the templates and, when asked, the secrets).

The shipped templates are in ``templates/``; a site's directory (``peers: {templates: DIR}``)
comes first, so a file there replaces the shipped one of the same name. The text is parsed
back with the shared line model and printed by it, so render, lint and diff speak one tree
and a template's layout (blank lines, `!`) never matters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from nmops.config.model import Inventory
from nmops.config.network import check_word
from nmops.config.secrets import SecretRef
from nmops.errors import ConfigError, NmopsError
from nmops.ix import lines
from nmops.ix.masking import MASK
from nmops.peers.intent import RouterIntent, intent

SecretReader = Callable[[SecretRef], str]
# What a secret renders as when it is not read: the mask the rest of nmops recognises, so a
# diff compares such lines by the presence of a secret and never resolves one.
PLACEHOLDER = MASK
SHIPPED = Path(__file__).resolve().parent / "templates"
ROOT_TEMPLATE = "router.conf.j2"


class RenderError(NmopsError):
    """A template could not be rendered (missing, broken, or naming what the intent lacks)."""


def secret_refs(model: RouterIntent) -> list[tuple[str, SecretRef | None]]:
    """Every secret the config of ``model`` carries: (what it is, its reference)."""
    refs: list[tuple[str, SecretRef | None]] = [("netmeister.password", model.netmeister.password)]
    refs += [(f"routers.{p.id}.psk", p.secret) for p in model.psks]
    if model.pppoe is not None:
        where = f"routers.{model.name}.wan.pppoe"
        if isinstance(model.pppoe.username, SecretRef):
            refs.append((f"{where}.username", model.pppoe.username))
        refs.append((f"{where}.password", model.pppoe.password))
    return refs


def _read_secrets(model: RouterIntent, secret: SecretReader | None) -> dict[SecretRef, str]:
    """Each secret read once and checked for a router line; every problem reported at once,
    naming the key and the reference, never the value."""
    values: dict[SecretRef, str] = {}
    problems = []
    for key, ref in secret_refs(model):
        if ref is None:
            if secret is not None:
                problems.append(f"{key}: needed to render {model.name}'s config: set it")
            continue
        if ref in values or secret is None:
            continue
        try:
            values[ref] = check_word(secret(ref), f"secret {ref.describe()}")
        except (NmopsError, ValueError) as exc:
            problems.append(f"{key}: {exc}")
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return values


@functools.lru_cache(maxsize=8)
def environment(templates: Path | None = None) -> jinja2.Environment:
    """The template environment: the site's directory first, then the shipped templates.
    Strict (an undefined name is an error, never an empty string); no HTML escaping (this is
    not HTML: every value is validated for a router line before it gets here); sandboxed
    (a site's template reads the intent, it cannot reach into Python). One per directory:
    templates are compiled once per run, and a changed file is reloaded (Jinja checks)."""
    paths = [str(templates)] if templates is not None else []
    paths.append(str(SHIPPED))
    return ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(paths),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,  # a line holding only a tag leaves no blank line or indent behind
        lstrip_blocks=True,
    )


def render_text(
    inventory: Inventory,
    router_name: str,
    *,
    secret: SecretReader | None,
    templates: Path | None = None,
) -> str:
    """``router_name``'s full config as IX text. With ``secret`` None every secret is the
    placeholder and nothing is read; otherwise ``secret`` reads each one (e.g.
    ``SecretRef.reveal``)."""
    return lines.render(render_config(inventory, router_name, secret=secret, templates=templates))


def render_config(
    inventory: Inventory,
    router_name: str,
    *,
    secret: SecretReader | None,
    templates: Path | None = None,
) -> lines.Config:
    """The rendered config as the shared line model's tree."""
    model = intent(inventory, router_name)
    values = _read_secrets(model, secret)

    def shown(value: SecretRef | str | None) -> str:
        if isinstance(value, str):
            return value  # a value written out in the inventory (a PPPoE user name)
        if value is None or secret is None:
            return PLACEHOLDER
        return values[value]

    env = environment(templates)
    try:
        text = env.get_template(ROOT_TEMPLATE).render(r=model, secret=shown)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"{router_name}: template {exc.name} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(
            f"{router_name}: template {exc.name or exc.filename}:{exc.lineno}: {exc.message}"
        ) from None
    except jinja2.TemplateError as exc:
        raise RenderError(f"{router_name}: template: {exc.message or exc}") from None
    return _checked(router_name, text)


def _checked(router_name: str, text: str) -> lines.Config:
    """The text as a tree, refused when a (site) template wrote what no router line may
    hold: control characters or `?`."""
    for number, line in enumerate(text.splitlines(), 1):
        if "?" in line or any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in line):
            raise RenderError(
                f"{router_name}: rendered line {number} holds a control character or '?'"
            )
    return lines.parse(text)
