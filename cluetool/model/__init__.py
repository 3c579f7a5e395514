"""msgspec Structs for every record that crosses a boundary (reports, findings, manifests, events)."""
