"""YAML loading that remembers where every key came from, so errors can name file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nmops.errors import ConfigError

Path_ = tuple[str | int, ...]
# libyaml when present: several times faster on large inventories, same nodes and marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    """Parse ``file``; a YAML syntax error or a duplicate key becomes a located ConfigError."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file.name}:{mark.line + 1}" if mark is not None else file.name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: invalid YAML: {problem}"]) from exc
    located = Located(file=file, data=None)
    problems: list[str] = []
    constructor = yaml.SafeLoader("")
    if node is not None:
        located.data = _build(node, (), located, constructor, problems)
    if problems:
        raise ConfigError(problems)
    return located


def _build(
    node: yaml.Node,
    path: Path_,
    located: Located,
    constructor: yaml.SafeLoader,
    problems: list[str],
) -> Any:
    located.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                problems.append(
                    f"{located.file.name}:{key_node.start_mark.line + 1}: "
                    f"keys must be text, not {type(key).__name__}"
                )
                continue
            child = (*path, str(key))
            if str(key) in out:
                problems.append(
                    f"{located.file.name}:{key_node.start_mark.line + 1}: "
                    f"{'.'.join(map(shown_key, child))}: duplicate key"
                )
                continue
            located.lines[child] = key_node.start_mark.line + 1
            out[str(key)] = _build(value_node, child, located, constructor, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), located, constructor, problems)
            for i, item in enumerate(node.value)
        ]
    return constructor.construct_object(node, deep=True)


def shown_key(part: object) -> str:
    """A key as it can be printed on one line: control characters escaped."""
    text = str(part)
    return text if text.isprintable() else repr(text)[1:-1]
