"""YAML loading that remembers where every key came from, so errors can name file and line.

Config files are built straight from parser events, in one pass and without recursion, so a
hostile file is refused before it can cost anything: aliases and anchors (an alias bomb grows
~600 bytes into gigabytes, a recursive anchor never ends), tags beyond the plain types (no
object construction, whatever the loader), nesting deeper than anything nmops reads, and files
larger than any inventory.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    StreamEndEvent,
)

from nmops.errors import ConfigError
from nmops.files import read_bytes

Path_ = tuple[str | int, ...]
# libyaml when present: several times faster on large inventories, same events and marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# 10,000 routers are under 2 MB and 150,000 values of YAML. Caps well above that keep a
# hostile or mistaken file (/dev/zero, a log) to a bounded memory and a second or two.
MAX_BYTES = 8 * 1024 * 1024
MAX_VALUES = 400_000
# nmops's deepest key is 5 levels down (routers.R.expect.ipv6.0); nothing legitimate nests 50.
MAX_DEPTH = 50

_YAML_TAG = "tag:yaml.org,2002:"
# Explicit tags allowed: the plain types. Anything else (!!python/..., !!binary, !vault, !foo)
# is refused by name rather than constructed or guessed at.
_SCALAR_TAGS = frozenset(f"{_YAML_TAG}{t}" for t in ("str", "int", "float", "bool", "null"))
_SEQ_TAG = f"{_YAML_TAG}seq"
_MAP_TAG = f"{_YAML_TAG}map"
# What implicit resolution may yield; "<<" (merge), "=" (value) ... are read as plain text.
_IMPLICIT_TAGS = _SCALAR_TAGS | {f"{_YAML_TAG}timestamp"}
# YAML 1.1's printable set (what the readers accept); checked first so the line is exact.
_NON_PRINTABLE = re.compile(r"[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A quoted fragment of a parser message: kept when it is one character, an escape such as
# '\t', or a token name such as '<scalar>'; anything longer could be file content.
_QUOTED = re.compile(r"'([^']*)'")
_HARMLESS_QUOTED = re.compile(r".|\\.|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\U[0-9a-f]{8}|<[a-z ]+>")
ALIASES_REFUSED = "YAML aliases and anchors are not supported"


@dataclass
class Located:
    """Plain data from one YAML file plus the line of every key and item (1-based)."""

    file: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def where(self, path: Path_) -> str:
        line = self.line_of(path)
        return f"{self.file.name}:{line}" if line is not None else self.file.name


def load_located(file: Path) -> Located:
    """Parse ``file``; every problem with it becomes one located line of a ConfigError."""
    text = _read_text(file)
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise ConfigError(
            [
                f"{file.name}:{line}: invalid YAML: control character U+{ord(bad.group()):04X} "
                "(only tab, line breaks and printable text)"
            ]
        )
    loader = _LOADER(text)
    try:
        return _Builder(file, loader).run()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file.name}:{mark.line + 1}" if mark is not None else file.name
        # Never str(exc): the pure-Python loader appends a snippet of the file to it.
        raise ConfigError([f"{where}: invalid YAML: {safe_problem(exc.problem)}"]) from None
    except yaml.YAMLError:
        raise ConfigError([f"{file.name}: invalid YAML"]) from None
    finally:
        loader.dispose()


def _read_text(file: Path) -> str:
    try:
        data = read_bytes(file, MAX_BYTES)  # a FIFO or /dev/zero must not hang nmops
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise ConfigError(
                [f"{file.name}: larger than {MAX_BYTES // (1024 * 1024)} MiB; not a config file"]
            ) from None
        raise ConfigError([f"{file}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [f"{file.name}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})"]
        ) from None


def safe_problem(problem: str | None) -> str:
    """A parser's problem text on one line, without quoted fragments of the file."""
    if not problem:
        return "not valid YAML"
    first = problem.splitlines()[0]
    return _QUOTED.sub(
        lambda m: m.group() if _HARMLESS_QUOTED.fullmatch(m.group(1)) else "'...'", first
    )


def shown_tag(tag: str) -> str:
    """A tag as written (``!!python/name:x``, ``!foo``), escaped and cut to a sane length."""
    text = "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag
    text = shown_key(text)
    return text if len(text) <= 60 else text[:57] + "..."


def shown_key(part: object) -> str:
    """A key as it can be printed on one line: control characters escaped."""
    text = str(part)
    return text if text.isprintable() else repr(text)[1:-1]


def dotted(path: Path_) -> str:
    return ".".join(shown_key(p) for p in path) or "(top)"


class _Frame:
    """A mapping or sequence being built. ``path`` is ``None`` for a value that is kept
    nowhere (a complex key, the value of a refused key): its lines are not recorded."""

    def __init__(self, value: dict[str, Any] | list[Any], path: Path_ | None, line: int) -> None:
        self.value = value
        self.path = path
        self.line = line  # where it starts: a complex key is reported there
        self.has_key = False  # mapping: a key has been read, its value comes next
        self.key: str | None = None  # that key; None when it was refused


# An alias stands in for nothing: its value is never looked up (aliases are refused).
_ALIAS = object()


class _Builder:
    """Plain data from a stream of parser events; problems collected, each located."""

    def __init__(self, file: Path, loader: Any) -> None:
        self.loader = loader
        self.located = Located(file=file, data=None)
        self.problems: list[str] = []
        self.stack: list[_Frame] = []
        self.aliases_reported = False
        self.values = 0

    def run(self) -> Located:
        documents = 0
        while True:
            event: Event = self.loader.get_event()
            if isinstance(event, StreamEndEvent):
                break
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    more = f"{self._at(event)}: invalid YAML: one document per file, not several"
                    raise ConfigError([*self.problems, more])
            elif isinstance(event, NodeEvent):
                self._node(event)
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                frame = self.stack.pop()
                self._deliver(frame.value, frame.line)
        if self.problems:
            raise ConfigError(self.problems)
        return self.located

    def _line(self, event: Event) -> int:
        return event.start_mark.line + 1 if event.start_mark is not None else 0

    def _at(self, event: Event) -> str:
        return f"{self.located.file.name}:{self._line(event)}"

    def _node(self, event: NodeEvent) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            more = f"{self._at(event)}: more than {MAX_VALUES:,} values; not a config file"
            raise ConfigError([*self.problems, more])
        path = self._child_path()
        line = self._line(event)
        if path is not None:
            self.located.lines.setdefault(path, line)
        if event.anchor is not None or isinstance(event, AliasEvent):
            # Refused at first sight, before anything is expanded; reported once per file.
            if not self.aliases_reported:
                self.problems.append(f"{self._at(event)}: {ALIASES_REFUSED}")
                self.aliases_reported = True
            if isinstance(event, AliasEvent):
                self._deliver(_ALIAS, line)
                return
        if isinstance(event, ScalarEvent):
            self._deliver(self._scalar(event), line)
        elif isinstance(event, CollectionStartEvent):
            self._start(event, path, line)

    def _child_path(self) -> Path_ | None:
        """Where the next value goes: ``None`` for a key or a value kept nowhere."""
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if frame.path is None:
            return None
        if isinstance(frame.value, list):
            return (*frame.path, len(frame.value))
        if frame.key is None:
            return None
        return (*frame.path, frame.key)

    def _key_path(self) -> Path_:
        """For messages: the path of the value being read, else of its container."""
        path = self._child_path()
        if path is not None:
            return path
        return next((f.path for f in reversed(self.stack) if f.path is not None), ())

    def _start(self, event: CollectionStartEvent, path: Path_ | None, line: int) -> None:
        if len(self.stack) >= MAX_DEPTH:
            # Stop here: the rest of such a file is not worth reading.
            more = f"{self._at(event)}: nesting deeper than {MAX_DEPTH} levels"
            raise ConfigError([*self.problems, more])
        mapping = isinstance(event, MappingStartEvent)
        if event.tag not in (None, "!", _MAP_TAG if mapping else _SEQ_TAG):
            self._refuse_tag(event, event.tag)
        self.stack.append(_Frame({} if mapping else [], path, line))

    def _scalar(self, event: ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag not in _IMPLICIT_TAGS:
                tag = f"{_YAML_TAG}str"
        elif tag not in _SCALAR_TAGS:
            self._refuse_tag(event, tag)
            return None
        node = yaml.ScalarNode(tag, event.value, None, None)  # marks: only for its messages
        try:
            return self.loader.yaml_constructors[tag](self.loader, node)
        except (ValueError, OverflowError, KeyError, yaml.YAMLError):
            # 2001-13-45, an int of 5,000 digits, !!int abc: the message never shows the value.
            self.problems.append(
                f"{self._at(event)}: {dotted(self._key_path())}: not a valid YAML "
                f"{tag.removeprefix(_YAML_TAG)} (quote it if it is text)"
            )
            return None

    def _refuse_tag(self, event: NodeEvent, tag: str) -> None:
        self.problems.append(
            f"{self._at(event)}: {dotted(self._key_path())}: YAML tag {shown_tag(tag)} "
            "is not supported"
        )

    def _deliver(self, value: Any, line: int) -> None:
        """A finished value: the document, an item, a key, or a key's value."""
        if value is _ALIAS:
            value = None
            if self.stack and isinstance(self.stack[-1].value, dict):
                frame = self.stack[-1]
                if not frame.has_key:  # an alias as a key: refused already, skip its value
                    frame.has_key, frame.key = True, None
                    return
        if not self.stack:
            self.located.data = value
            return
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            frame.value.append(value)
        elif not frame.has_key:
            frame.has_key, frame.key = True, self._key(frame, value, line)
        else:
            if frame.key is not None:
                frame.value[frame.key] = value
            frame.has_key, frame.key = False, None

    def _key(self, frame: _Frame, key: Any, line: int) -> str | None:
        """The key as text, or ``None`` when it is refused (its value is then skipped)."""
        name = self.located.file.name
        if not isinstance(key, str | int):
            self.problems.append(f"{name}:{line}: keys must be text, not {type(key).__name__}")
            return None
        text = str(key)
        if frame.path is None:
            return text
        child = (*frame.path, text)
        if text in frame.value:
            # Only the key: the value may be anything, a secret under the wrong key included.
            self.problems.append(f"{name}:{line}: {dotted(child)}: duplicate key")
            return None
        self.located.lines[child] = line
        return text
