"""Assignment rules from ``rules/assignment.toml``: which unit handles a clue (cluetool/data/rules/).

The file is an ordered list of rules; the first rule that matches a clue wins, and no
match leaves the clue unassigned (and reported)::

    [[rule]]
    id = "gd.gang_crime"
    kind = "gang_crime"
    region_prefix = "44"
    unit = "gd.ago"
    source = "..."

Matchers (each optional; a rule with none matches every clue, which is how a catch-all
is written):

- ``kind``: the report's kind;
- ``region_prefix``: the facts region starts with this (2, 4 or 6 digits);
- ``industry``, ``target``, ``organ_type``: one of the clue's codes is this one;
- ``umbrella``: ``yes``, ``no`` or ``unknown``.

Every matcher takes one value or a list of values; a list matches if any value does.
Within a rule all given matchers must match. Values are checked against the code lists
(``cluetool.model.codes``) and every ``unit`` against ``units.toml`` when loading.

``AssignmentRules`` precompiles the matchers (frozensets, prefix tuples, a per-kind index
of candidate rules) so that ``match`` stays in the microseconds with hundreds of rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, overload

import msgspec

from cluetool.model.codes import INDUSTRIES, KINDS, ORGAN_TYPES, TARGETS, TRISTATE
from cluetool.rules.facts import ClueFacts
from cluetool.rules.toml_util import ID_PATTERN, TomlDoc, convert, load_toml
from cluetool.rules.units import Unit

__all__ = ["AssignmentRule", "AssignmentRules", "load_assignment_rules", "match", "parse_assignment_rules"]

_REGION_PREFIX = re.compile(r"^(?:\d{2}){1,3}$")

# Field → allowed values (None: region prefixes, checked by pattern).
_MATCHERS: dict[str, frozenset[str] | None] = {
    "kind": frozenset(KINDS),
    "region_prefix": None,
    "industry": frozenset(INDUSTRIES),
    "target": frozenset(TARGETS),
    "umbrella": frozenset(TRISTATE),
    "organ_type": frozenset(ORGAN_TYPES),
}

_Values = tuple[str, ...] | None


class AssignmentRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One routing rule: if every given matcher matches the clue, assign it to ``unit``.

    Matcher fields hold the values as written (one value becomes a 1-tuple); ``None``
    means "any".
    """

    id: str
    unit: str
    source: str
    kind: _Values = None
    region_prefix: _Values = None
    industry: _Values = None
    target: _Values = None
    umbrella: _Values = None
    organ_type: _Values = None


class _RawRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(pattern=ID_PATTERN, max_length=64)]
    unit: Annotated[str, msgspec.Meta(min_length=1)]
    source: Annotated[str, msgspec.Meta(min_length=1)]
    kind: str | list[str] | None = None
    region_prefix: str | list[str] | None = None
    industry: str | list[str] | None = None
    target: str | list[str] | None = None
    umbrella: str | list[str] | None = None
    organ_type: str | list[str] | None = None


class _RulesFile(msgspec.Struct, forbid_unknown_fields=True):
    rule: list[dict[str, Any]] = msgspec.field(default_factory=list)


def load_assignment_rules(path: Path, units: Mapping[str, Unit]) -> AssignmentRules:
    """Read ``assignment.toml`` and check it against the known units.

    Raises:
        InputError: not TOML, an unknown or mistyped field, an unknown code or unit, a
            duplicate id (the message names file, line and field).
        StateError: the file exists but cannot be read.
    """
    return parse_assignment_rules(load_toml(path, "assignment rules"), units)


def parse_assignment_rules(doc: TomlDoc, units: Mapping[str, Unit]) -> AssignmentRules:
    """The rules of an already loaded document (see ``load_assignment_rules``).

    Raises:
        InputError: as ``load_assignment_rules``.
    """
    top = convert(doc, doc.data, _RulesFile)
    rules: list[AssignmentRule] = []
    seen: set[str] = set()
    for index, raw in enumerate(top.rule):
        where = ("rule", index)
        r = convert(doc, raw, _RawRule, where)
        if r.id in seen:
            raise doc.error((*where, "id"), f'rule "{r.id}" is listed twice')
        seen.add(r.id)
        if r.unit not in units:
            raise doc.error((*where, "unit"), f'unknown unit "{r.unit}" (not in units.toml)')
        values: dict[str, _Values] = {}
        for field, allowed in _MATCHERS.items():
            values[field] = _matcher_values(doc, (*where, field), getattr(r, field), allowed)
        rules.append(AssignmentRule(id=r.id, unit=r.unit, source=r.source, **values))
    return AssignmentRules(rules)


def _matcher_values(
    doc: TomlDoc, where: tuple[str | int, ...], raw: str | list[str] | None, allowed: frozenset[str] | None
) -> _Values:
    if raw is None:
        return None
    items = [raw] if isinstance(raw, str) else raw
    if not items:
        raise doc.error(where, "an empty list matches nothing; leave the field out to match anything")
    for value in items:
        if allowed is None:
            if not _REGION_PREFIX.match(value):
                raise doc.error(where, f'"{value}" is not a region prefix of 2, 4 or 6 digits')
        elif value not in allowed:
            raise doc.error(where, f'unknown code "{value}"')
    if len(set(items)) != len(items):
        raise doc.error(where, "a value is listed twice")
    return tuple(items)


# A compiled rule: the matchers as the fastest structures for their test.
_Compiled = tuple[
    frozenset[str] | None,  # kind (only used to build the per-kind index)
    tuple[str, ...] | None,  # region prefixes, for str.startswith
    frozenset[str] | None,  # industries
    frozenset[str] | None,  # targets
    frozenset[str] | None,  # umbrella
    frozenset[str] | None,  # organ types
    AssignmentRule,
]


def _compile(rule: AssignmentRule) -> _Compiled:
    def fs(values: _Values) -> frozenset[str] | None:
        return None if values is None else frozenset(values)

    return (
        fs(rule.kind),
        rule.region_prefix,
        fs(rule.industry),
        fs(rule.target),
        fs(rule.umbrella),
        fs(rule.organ_type),
        rule,
    )


class AssignmentRules(Sequence[AssignmentRule]):
    """An ordered, immutable list of assignment rules with precompiled matchers."""

    def __init__(self, rules: Sequence[AssignmentRule]) -> None:
        self._rules = tuple(rules)
        compiled = [_compile(r) for r in self._rules]
        # Per kind, the rules that could match it, in order; rules with no kind matcher
        # are in every list. Kinds outside the index use the kind-less rules.
        self._by_kind: dict[str, tuple[_Compiled, ...]] = {
            kind: tuple(c for c in compiled if c[0] is None or kind in c[0]) for kind in KINDS
        }
        self._any_kind = tuple(c for c in compiled if c[0] is None)

    def match(self, facts: ClueFacts) -> AssignmentRule | None:
        """The first rule that matches ``facts``, or None."""
        region = facts.region
        for _kind, prefixes, industries, targets, umbrella, organs, rule in self._by_kind.get(
            facts.kind, self._any_kind
        ):
            if prefixes is not None and not region.startswith(prefixes):
                continue
            if umbrella is not None and facts.umbrella not in umbrella:
                continue
            if industries is not None and industries.isdisjoint(facts.industries):
                continue
            if targets is not None and targets.isdisjoint(facts.targets):
                continue
            if organs is not None and organs.isdisjoint(facts.organ_types):
                continue
            return rule
        return None

    @overload
    def __getitem__(self, index: int) -> AssignmentRule: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AssignmentRule]: ...
    def __getitem__(self, index: int | slice) -> AssignmentRule | Sequence[AssignmentRule]:
        return self._rules[index]

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self) -> Iterator[AssignmentRule]:
        return iter(self._rules)

    def __repr__(self) -> str:
        return f"AssignmentRules({len(self._rules)} rules)"


def match(rules: Sequence[AssignmentRule], facts: ClueFacts) -> AssignmentRule | None:
    """The first rule in ``rules`` that matches ``facts`` (None: leave the clue unassigned).

    Pass the ``AssignmentRules`` from ``load_assignment_rules`` when matching many clues;
    a plain sequence is compiled on every call.
    """
    compiled = rules if isinstance(rules, AssignmentRules) else AssignmentRules(rules)
    return compiled.match(facts)
