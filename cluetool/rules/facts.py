"""The facts of a clue that rules look at, and the predicate language over them (cluetool/data/rules/).

``ClueFacts`` is the small, flat view of a report that assignment and deadline rules
match on. The importer builds it from the report; this module does not know the report
model, so the rules can be tested (and reasoned about) on their own.

Predicates (the ``applies`` of a deadline rule) are data, never code: no ``eval``. A
predicate is one of

- a name from the vocabulary below, as a string: ``applies = "reporter.has_contact"``;
- a list of predicates, all of which must hold: ``applies = ["kind.gang_crime", "region.44"]``;
- a table with exactly one key, ``any``, ``all`` (each a non-empty list) or ``not`` (one
  predicate): ``applies = { any = ["umbrella.yes", "kind.police_misconduct"] }``.

Tables nest, up to ``MAX_PREDICATE_DEPTH`` levels. The names:

=========================  ============================================================
``always``                 every clue
``reporter.has_contact``   the reporter left contact details (the 30-day contact rule)
``reporter.real_name``     the reporter gave a real name (not anonymous)
``kind.<kind>``            the report's kind: ``police_misconduct``, ``gang_crime``,
                           ``industry_disorder``
``umbrella.<value>``       the umbrella question: ``yes``, ``no``, ``unknown``
``industry.<code>``        one of the report's industries is ``<code>`` (``IND01``…)
``target.<code>``          one of its crime targets is ``<code>`` (``T01``…, ``T99``, ``UNK``)
``organ_type.<code>``      one of the reported organs is of type ``<code>`` (``ORG_PSB``…)
``region.<prefix>``        the facts region starts with ``<prefix>`` (2, 4 or 6 digits)
=========================  ============================================================

Codes are checked against ``cluetool.model.codes`` when the rule file is loaded, so a
misspelt name is a load-time error rather than a rule that silently never applies.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from cluetool.model.codes import INDUSTRIES, KINDS, ORGAN_TYPES, TARGETS, TRISTATE

__all__ = [
    "MAX_PREDICATE_DEPTH",
    "PREDICATE_NAMES",
    "ClueFacts",
    "Predicate",
    "PredicateError",
    "evaluate",
    "parse_predicate",
]

Tristate = Literal["yes", "no", "unknown"]
Region = Annotated[str, msgspec.Meta(pattern=r"^\d{6}$")]


class ClueFacts(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the rules see of one clue.

    ``region`` is the 6-digit GB/T 2260 code of where the facts happened; ``industries``,
    ``targets`` and ``organ_types`` are the report's multi-select codes (empty when the
    kind has no such field); ``has_contact`` is true when the reporter can be reached.
    """

    submission_id: str
    kind: str
    region: Region
    industries: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    umbrella: Tristate = "unknown"
    organ_types: tuple[str, ...] = ()
    has_contact: bool = False
    real_name: bool = False
    received_at: datetime


#: A parsed predicate, in its normal form: an atom name (str), or a one-key dict
#: ``{"any": [...]}``, ``{"all": [...]}`` or ``{"not": predicate}``. Lists in the file
#: become ``{"all": [...]}``. This is also the form that ``rules_hash`` covers.
Predicate = str | dict[str, Any]

MAX_PREDICATE_DEPTH = 8

#: The plain names and the families ``<family>.<value>`` with their allowed values.
_PLAIN = ("always", "reporter.has_contact", "reporter.real_name")
_FAMILIES: dict[str, frozenset[str] | None] = {
    "kind": frozenset(KINDS),
    "umbrella": frozenset(TRISTATE),
    "industry": frozenset(INDUSTRIES),
    "target": frozenset(TARGETS),
    "organ_type": frozenset(ORGAN_TYPES),
    "region": None,  # a digit prefix, checked by pattern
}
_REGION_PREFIX = re.compile(r"^(?:\d{2}){1,3}$")

#: Every name, for documentation and error hints.
PREDICATE_NAMES: tuple[str, ...] = (*_PLAIN, *(f"{family}.<value>" for family in _FAMILIES))


class PredicateError(ValueError):
    """A predicate in a rule file is malformed; ``where`` is the path inside it."""

    def __init__(self, where: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def parse_predicate(raw: Any) -> Predicate:
    """Check a predicate as written in TOML and return its normal form.

    Raises:
        PredicateError: unknown name, unknown code, bad shape or too deep.
    """
    return _parse(raw, (), 1)


def _parse(raw: Any, where: tuple[str | int, ...], depth: int) -> Predicate:
    if depth > MAX_PREDICATE_DEPTH:
        raise PredicateError(where, f"predicate nested deeper than {MAX_PREDICATE_DEPTH} levels")
    if isinstance(raw, str):
        _check_atom(raw, where)
        return raw
    if isinstance(raw, list):
        return {"all": _parse_list(raw, where, depth)}
    if isinstance(raw, dict):
        if len(raw) != 1:
            raise PredicateError(where, 'a predicate table has exactly one key: "any", "all" or "not"')
        ((op, value),) = raw.items()
        if op in ("any", "all"):
            if not isinstance(value, list):
                raise PredicateError((*where, op), f'"{op}" takes a list of predicates')
            return {op: _parse_list(value, (*where, op), depth)}
        if op == "not":
            return {"not": _parse(value, (*where, op), depth + 1)}
        raise PredicateError((*where, op), f'unknown operator "{op}"; use "any", "all" or "not"')
    raise PredicateError(where, f"a predicate is a name, a list or a table, not {_toml_type(raw)}")


def _parse_list(raw: list[Any], where: tuple[str | int, ...], depth: int) -> list[Predicate]:
    if not raw:
        raise PredicateError(where, "an empty list of predicates")
    return [_parse(item, (*where, i), depth + 1) for i, item in enumerate(raw)]


def _check_atom(name: str, where: tuple[str | int, ...]) -> None:
    if name in _PLAIN:
        return
    family, dot, value = name.partition(".")
    if not dot or family not in _FAMILIES:
        raise PredicateError(where, f'unknown predicate "{name}"; known: {", ".join(PREDICATE_NAMES)}')
    allowed = _FAMILIES[family]
    if allowed is None:
        if not _REGION_PREFIX.match(value):
            raise PredicateError(where, f'"{name}": a region prefix is 2, 4 or 6 digits')
    elif value not in allowed:
        raise PredicateError(where, f'unknown predicate "{name}": "{value}" is not a {family} code')


def evaluate(predicate: Predicate, facts: ClueFacts) -> bool:
    """True if the clue satisfies the (parsed) predicate."""
    if isinstance(predicate, str):
        return _atom(predicate, facts)
    ((op, value),) = predicate.items()
    if op == "any":
        return any(evaluate(p, facts) for p in value)
    if op == "all":
        return all(evaluate(p, facts) for p in value)
    return not evaluate(value, facts)


def _atom(name: str, facts: ClueFacts) -> bool:
    if name == "always":
        return True
    if name == "reporter.has_contact":
        return facts.has_contact
    if name == "reporter.real_name":
        return facts.real_name
    family, _, value = name.partition(".")
    if family == "kind":
        return facts.kind == value
    if family == "umbrella":
        return facts.umbrella == value
    if family == "industry":
        return value in facts.industries
    if family == "target":
        return value in facts.targets
    if family == "organ_type":
        return value in facts.organ_types
    if family == "region":
        return facts.region.startswith(value)
    # parse_predicate rejects anything else; reaching here means an unparsed predicate.
    raise ValueError(f"unknown predicate {name!r}")


def _toml_type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float"}.get(type(value), f"a {type(value).__name__}")
