"""Handling of imported clues: assignment, events, deadlines, the transfer ledger.

``cluetool.api`` (``assign``, ``record``, ``deadlines``, ``ledger``, ``calendar_*``) is
what the commands call; the modules here: ``assign``, ``record``, ``deadlines``,
``ledger``, ``calendar_admin``, the deadline engine ``obligations``, with ``progress``
(what an event does to obligations) and ``context`` (units, rules, the clue named).
SQL lives in ``cluetool.store.handling``.
"""
