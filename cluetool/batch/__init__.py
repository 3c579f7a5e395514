"""Batches: seal, verify and open the ``.clue`` format (docs/format.md)."""
