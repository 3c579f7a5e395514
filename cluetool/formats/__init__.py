"""Pure, standalone implementations of public formats.

Nothing here imports from the rest of cluetool; use ``cluetool.seal``/``verify`` unless
you are implementing a format.
"""
