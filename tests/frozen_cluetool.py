"""``cluetool`` with the clock set to ``$CLUETOOL_TEST_CLOCK`` (freezegun, ticking).

The demo test runs ``samples/demo.sh`` with ``CLUETOOL`` pointing here, to show that the
demo's result does not depend on the date it runs on.
"""

import importlib
import os
import pkgutil

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

if __name__ == "__main__":
    with freeze_time(os.environ["CLUETOOL_TEST_CLOCK"], tick=True):
        main()
