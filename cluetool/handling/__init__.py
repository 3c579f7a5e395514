"""Handling of imported clues: assignment, events, deadlines, the transfer ledger (DESIGN §8).

``cluetool.handling.service`` is the API the commands call; the modules behind it:
``assign``, ``record``, ``deadlines``, ``ledger``, with ``progress`` (what an event does
to obligations) and ``context`` (home, store, units, rules). SQL lives in
``cluetool.store.handling``.
"""
