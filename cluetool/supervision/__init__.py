"""Supervision (issue 23): the monthly callback sample, statistics and the HTML report.

- ``draw``: the draw's algorithm and file, with no store (what an auditor recomputes);
- ``sampling``: ``sample`` against the store and ``sample --verify`` against an export;
- ``stats``: the backlog, obligations and monthly counts (``stats``);
- ``svg`` and ``html``: the static report page (``report``).
"""
