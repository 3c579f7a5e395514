"""``cluetool`` with the clock set to ``$CLUETOOL_TEST_CLOCK`` (freezegun, ticking).

The demo test runs ``samples/demo.sh`` with ``CLUETOOL`` pointing here, to show that the
demo's result does not depend on the date it runs on.

With ``$CLUETOOL_TEST_CLOCK_COUNTER`` (a file) each run starts
``$CLUETOOL_TEST_CLOCK_STEP`` seconds (default 60) after the previous one, so that a
sequence of commands (the README tour) sees time pass in order on any date.
"""

import importlib
import os
import pkgutil
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
from freezegun import freeze_time

import cluetool
from cluetool.cli import main

# Import every module before the clock is frozen, as a test module would: a module
# first imported under freezegun sees its fake ``date`` class as the real one.
# msgspec resolves a Struct's annotations on first use and keeps them: resolve them now.
for _mod in pkgutil.walk_packages(cluetool.__path__, "cluetool."):
    if _mod.name != "cluetool.__main__":
        _m = importlib.import_module(_mod.name)
        for _obj in vars(_m).values():
            if isinstance(_obj, type) and issubclass(_obj, msgspec.Struct) and _obj.__module__ == _m.__name__:
                try:
                    msgspec.json.Decoder(_obj)
                except TypeError:
                    pass  # a generic or abstract Struct



def _clock() -> datetime:
    start = datetime.fromisoformat(os.environ["CLUETOOL_TEST_CLOCK"])
    counter = os.environ.get("CLUETOOL_TEST_CLOCK_COUNTER")
    if not counter:
        return start
    path = Path(counter)
    runs = int(path.read_text()) if path.exists() else 0
    path.write_text(str(runs + 1))
    return start + timedelta(seconds=runs * float(os.environ.get("CLUETOOL_TEST_CLOCK_STEP", "60")))


if __name__ == "__main__":
    with freeze_time(_clock(), tick=True):
        main()
