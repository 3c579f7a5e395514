"""Batches: seal, verify and open the ``.clue`` format (DESIGN §5)."""
