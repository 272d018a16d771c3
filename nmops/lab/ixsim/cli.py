"""The command interpreter of one CLI session: a line in, the router's answer out.

Holds the session's mode (operation, config, a config block), its terminal settings and a
pending question (the reload dialogue). Talks only to the SimRouter; the SSH server does the
bytes (echo, paging) with the settings kept here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nmops.ix import formats, lines
from nmops.lab.ixsim import show, texts
from nmops.lab.ixsim.router import SimRouter
from nmops.names import is_interface


@dataclass(frozen=True)
class Reply:
    output: str = ""  # lines joined by "\n"; the server adds CRs
    close: bool = False  # the session ends (logout)
    reload: bool = False  # the router reloads once this reply is sent
    delay: float = 0.0  # seconds the router takes before it answers (saving)


def _lines(*lines: str) -> Reply:
    return Reply("".join(f"{line}\n" for line in lines))


def _invalid(word: str) -> Reply:
    return _lines(texts.INVALID.format(word=word))


class CliSession:
    def __init__(self, router: SimRouter, on_drop: Callable[[], None] | None = None) -> None:
        self.router = router
        self.in_config = False
        self.context: tuple[str, ...] = ()  # the config block the session is in
        self.page_length = texts.DEFAULT_PAGE_LENGTH  # 0: no paging
        self.width = texts.DEFAULT_WIDTH
        self._question: Callable[[str], Reply] | None = None
        self._on_drop = on_drop
        self.accepted = router.attach(self)  # False: the router has no session left

    # --- SessionHandle ------------------------------------------------------------------

    def config_taken_over(self) -> None:
        """Another session ran `svintr-config`: back to operation mode."""
        self.in_config = False
        self.context = ()

    def drop(self) -> None:
        if self._on_drop is not None:
            self._on_drop()

    def close(self) -> None:
        self.router.detach(self)

    # --- prompt and input ---------------------------------------------------------------

    def prompt(self) -> str:
        if self._question is not None:
            return ""  # the question is the prompt
        host = self.router.hostname
        if not self.in_config:
            return f"{host}# "
        if not self.context:
            return f"{host}(config)# "
        return f"{host}(config-{submode(self.context)})# "

    def help_words(self) -> list[str]:
        if not self.in_config:
            return ["configure", "enable-config", "exit", "show", "svintr-config"]
        return ["exit", "no", "reload", "show", "terminal", "write"]

    def ctrl_z(self) -> Reply:
        """CNTL/Z leaves config mode altogether."""
        if self.in_config:
            self._leave_config()
        return Reply()

    def execute(self, line: str) -> Reply:
        line = line.strip()
        if self._question is not None:
            answer, self._question = self._question, None
            return answer(line)
        if not line:
            return Reply()
        words = line.split()
        if not self.in_config:
            return self._operation(words)
        return self._config(line, words)

    # --- operation mode -----------------------------------------------------------------

    def _operation(self, words: list[str]) -> Reply:
        head = words[0]
        if head in ("enable-config", "configure", "svintr-config") and len(words) == 1:
            return self._enter_config(takeover=head == "svintr-config")
        if head in ("exit", "logout", "quit") and len(words) == 1:
            return Reply(close=True)
        if head == "show":
            if len(words) == 1:
                return _lines(texts.INCOMPLETE)
            if words[1:] == ["version"]:
                return Reply(show.version(self.router))
            return _invalid(words[1])  # the rest of `show` exists in config mode only
        return _invalid(head)

    def _enter_config(self, *, takeover: bool) -> Reply:
        if not self.router.enter_config(self, takeover=takeover):
            return _lines(texts.OCCUPIED, formats.OCCUPIED_HINT)
        self.in_config = True
        self.context = ()
        return _lines(texts.ENTER_CONFIG)

    def _leave_config(self) -> None:
        self.in_config = False
        self.context = ()
        self.router.leave_config(self)

    # --- config mode --------------------------------------------------------------------

    def _config(self, line: str, words: list[str]) -> Reply:
        head = words[0]
        if head == "show":
            return self._show(words[1:])
        if head in ("configure", "enable-config", "svintr-config") and len(words) == 1:
            self.context = ()
            return Reply()
        if head == "exit" and len(words) == 1:
            if self.context:
                self.context = self.context[:-1]
            else:
                self._leave_config()
            return Reply()
        if head == "write":
            if words[1:] == ["memory"]:
                self.router.save()
                return Reply(_lines(*texts.SAVE_LINES).output, delay=self.router.timings.save_delay)
            return _lines(texts.INCOMPLETE) if len(words) == 1 else _invalid(words[1])
        if head == "copy":
            if words[1:] == ["running-config", "startup-config"]:
                self.router.save()
                out = _lines(texts.COPY_LINE, *texts.SAVE_LINES).output
                return Reply(out, delay=self.router.timings.save_delay)
            return _lines(texts.INCOMPLETE) if len(words) == 1 else _invalid(words[-1])
        if head == "reload":
            return self._reload() if len(words) == 1 else _invalid(words[1])
        if head == "terminal":
            return self._terminal(words[1:])
        if line.startswith("!"):
            return Reply()  # a comment line is accepted and ignored [C]
        result = self.router.type_config(self.context, line)
        if result.error is not None:
            return _lines(result.error)
        self.context = result.context
        return _lines(texts.RESTART_NOTICE) if result.notice else Reply()

    def _terminal(self, args: list[str]) -> Reply:
        if not args:
            return _lines(texts.INCOMPLETE)
        if args[0] not in ("length", "width"):
            return _invalid(args[0])
        if len(args) != 2:
            return _lines(texts.INCOMPLETE) if len(args) == 1 else _invalid(args[2])
        value = int(args[1]) if args[1].isdigit() else -1
        if args[0] == "length" and 0 <= value <= texts.MAX_WIDTH:
            self.page_length = value
        elif args[0] == "width" and texts.DEFAULT_WIDTH // 2 <= value <= texts.MAX_WIDTH:
            self.width = value
        else:
            return _invalid(args[1])
        return Reply()

    def _reload(self) -> Reply:
        lines = [texts.RELOAD_UNSAVED] if self.router.unsaved else []
        lines += texts.RELOAD_NOTICE
        self._question = self._reload_answer
        return Reply("".join(f"{line}\n" for line in lines) + texts.RELOAD_QUESTION)

    def _reload_answer(self, answer: str) -> Reply:
        if answer.lower() in ("y", "yes"):
            return Reply(reload=True)
        return Reply()

    def _show(self, args: list[str]) -> Reply:
        router = self.router
        fixed: dict[tuple[str, ...], Callable[[SimRouter], str]] = {
            ("running-config",): show.running_config,
            ("config",): show.startup_config,
            ("version",): show.version,
            ("nm", "information"): show.nm_information,
            ("ikev2", "sa"): show.ikev2_sa,
        }
        render = fixed.get(tuple(args))
        if render is not None:
            return Reply(render(router))
        if len(args) >= 2 and args[0] in ("ip", "ipv6") and args[1] == "interface":
            family = 4 if args[0] == "ip" else 6
            if len(args) == 2:
                return Reply(show.all_interfaces(router, family))
            if len(args) > 3:
                return _invalid(args[3])
            if not is_interface(args[2]):
                return _invalid(args[2])
            render_if = show.ip_interface if family == 4 else show.ipv6_interface
            return Reply(render_if(router, args[2]))
        # Name the first word that no known command continues with.
        candidates = [*fixed, ("ip", "interface"), ("ipv6", "interface")]
        matched = max(_common_prefix(args, key) for key in candidates)
        if matched >= len(args):
            return _lines(texts.INCOMPLETE)
        return _invalid(args[matched])


def _common_prefix(words: list[str], key: tuple[str, ...]) -> int:
    count = 0
    for word, expected in zip(words, key, strict=False):
        if word != expected:
            break
        count += 1
    return count


def submode(context: tuple[str, ...]) -> str:
    """The name in `HOST(config-NAME)# ` for the innermost block of ``context``."""
    parent: str | None = None
    kind: lines.BlockKind | None = None
    for header in context:
        kind = lines.block_kind(header, parent)
        parent = kind.name if kind is not None else parent
    if kind is None:
        return "unknown"
    match = kind.header.match(context[-1])
    groups = match.groups() if match is not None else ()
    return formats.SUBMODE_PROMPTS.get(kind.name, kind.name).format(*groups)
