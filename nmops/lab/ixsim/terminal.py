"""The terminal side of a session: echo with wrapping, line assembly and the pager (pure).

The IX echoes what is typed and wraps long lines at the terminal width (80 columns unless
`terminal width N`); output longer than the page length stops at `--More--` until a key:
space for the next page, Enter for one more line, `q` to stop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nmops.lab.ixsim import texts


@dataclass(frozen=True)
class Key:
    echo: str = ""
    line: str | None = None  # a line was completed (Enter)
    control: str | None = None  # "ctrl-c", "ctrl-z", "help"


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


@dataclass
class Terminal:
    column: int = 0
    buffer: list[str] = field(default_factory=list)
    _after_cr: bool = False
    _escape: int = 0  # characters of an escape sequence (arrow keys) still to swallow
    _pending: list[str] | None = None  # lines the pager holds back

    # --- input --------------------------------------------------------------------------

    def key(self, char: str, width: int) -> Key:
        after_cr, self._after_cr = self._after_cr, char == "\r"
        if self._escape:
            self._escape = 1 if (self._escape == 2 and char == "[") else 0
            return Key()
        if char == "\x1b":
            self._escape = 2
            return Key()
        if char in "\r\n":
            if char == "\n" and after_cr:
                return Key()  # the LF of a CRLF
            line, self.buffer = "".join(self.buffer), []
            return Key(line=line)
        if char in "\x7f\x08":
            if not self.buffer:
                return Key()
            self.buffer.pop()
            if self.column == 0:
                return Key()  # do not try to climb back over a wrap
            self.column -= 1
            return Key(echo="\b \b")
        if char == "\x03":
            self.buffer = []
            return Key(echo="^C", control="ctrl-c")
        if char == "\x1a":
            self.buffer = []
            return Key(echo="^Z", control="ctrl-z")
        if char == "?":
            return Key(control="help")
        if char < " ":
            return Key()  # tabs and other controls: the lab does no completion
        self.buffer.append(char)
        return Key(echo=self._advance(char, width))

    def _advance(self, text: str, width: int) -> str:
        out: list[str] = []
        for char in text:
            out.append(char)
            self.column += 1
            if self.column >= width:
                out.append("\r\n")
                self.column = 0
        return "".join(out)

    def retype(self, prompt: str, width: int) -> str:
        """The prompt and the line typed so far, after help output interrupted it."""
        self.column = 0
        return self._advance(prompt + "".join(self.buffer), width)

    # --- output -------------------------------------------------------------------------

    def wrote(self, text: str) -> None:
        """Keep the column in step with what was written (for wrapping the next echo)."""
        tail = text.replace("\r\n", "\n").rsplit("\n", 1)
        self.column = len(tail[-1]) if len(tail) > 1 else self.column + len(tail[0])

    def page(self, text: str, page_length: int) -> str:
        """What to write now of ``text``: all of it, or a page and `--More--`."""
        lines = text.splitlines(keepends=True)
        if page_length <= 0 or len(lines) <= page_length:
            return crlf(text)
        self._pending = lines[page_length:]
        return crlf("".join(lines[:page_length])) + texts.PAGER_MARK

    @property
    def paging(self) -> bool:
        return self._pending is not None

    def pager_key(self, char: str, page_length: int) -> tuple[str, bool]:
        """``(text to write, finished)`` for a key pressed at `--More--`."""
        after_cr, self._after_cr = self._after_cr, char == "\r"
        if self._pending is None or (char == "\n" and after_cr):
            return "", self._pending is None
        if char in "qQ\x03":
            self._pending = None
            # The prompt then starts a line of its own, where prompt matchers look for it.
            return texts.PAGER_ERASE + "\r\n", True
        count = 1 if char in "\r\n" else max(page_length, 1)
        chunk, rest = self._pending[:count], self._pending[count:]
        out = texts.PAGER_ERASE + crlf("".join(chunk))
        if rest:
            self._pending = rest
            return out + texts.PAGER_MARK, False
        self._pending = None
        return out, True
