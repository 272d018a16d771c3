"""What one line typed in config mode does to a simulated router's config (pure).

The grammar (:mod:`nmops.lab.ixsim.grammar`) decides whether the IX would take the line; the
shared line model (:mod:`nmops.ix.lines`) decides what it does to the config. Session rules
[C]: a block header moves the session into its block, also from inside another block; a
top-level line typed inside a block applies at the top and the session stays where it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from nmops.ix import formats, lines
from nmops.lab.ixsim import texts
from nmops.lab.ixsim.grammar import Grammar


@dataclass(frozen=True)
class Typed:
    config: lines.Config  # after the line
    context: tuple[str, ...]  # the block the session is in afterwards
    error: str | None = None  # what the IX prints when it refuses the line
    changes: tuple[lines.Change, ...] = ()
    notice: bool = False  # the restart notice follows

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes)


def type_line(config: lines.Config, context: tuple[str, ...], line: str, grammar: Grammar) -> Typed:
    words = line.split()
    negation = words[0] == "no"
    body = " ".join(words[1:]) if negation else " ".join(words)
    if negation and not body:
        return Typed(config, context, texts.INCOMPLETE)
    kind = lines.kind_at(context)
    places: list[tuple[tuple[str, ...], str | None]] = [(context, kind)]
    if context:
        places.append(((), None))
    first_error: str | None = None
    for where, where_kind in places:
        nested = lines.opens_block(body, where_kind)
        if where_kind is not None and not nested and lines.opens_block(body, None):
            continue  # a top-level header: handled at the top
        verdict = grammar.check(body, where_kind or "top", negation=negation)
        if verdict.ok:
            return _apply(config, context, where, where_kind, line, body, negation, grammar)
        if first_error is None:
            first_error = (
                texts.INCOMPLETE
                if verdict.incomplete
                else texts.INVALID.format(word=verdict.word or words[0])
            )
    return Typed(config, context, first_error or texts.INVALID.format(word=words[0]))


def _apply(
    config: lines.Config,
    context: tuple[str, ...],
    where: tuple[str, ...],
    where_kind: str | None,
    line: str,
    body: str,
    negation: bool,
    grammar: Grammar,
) -> Typed:
    header = lines.opens_block(body, where_kind)
    if header and negation and lines.permanent_block(body):
        return Typed(config, context, formats.CANNOT_DELETE.format(name=body.split()[-1]))
    new, changes = lines.apply(config, lines.Edit(where, " ".join(line.split())))
    if header and not negation:
        context = (*where, body)  # into the block (created if it was not there)
    elif header and negation and context[: len(where) + 1] == (*where, body):
        context = where  # the block the session was in is gone
    elif not where and context:
        pass  # a top-level line typed in a block: the session stays in its block [C]
    return Typed(new, context, None, tuple(changes), grammar.restart_needed(body))
