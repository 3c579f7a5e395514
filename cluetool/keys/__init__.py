"""The keystore: generate, load, trust and rotate keys (DESIGN §6)."""

from cluetool.keys.keystore import (
    KeyInfo,
    KeyList,
    TrustResult,
    export_public,
    generate,
    list_keys,
    load_identity,
    load_signing_key,
    read_passphrase,
    rotate,
    show,
    trust,
    trusted_keys,
)

__all__ = [
    "KeyInfo",
    "KeyList",
    "TrustResult",
    "export_public",
    "generate",
    "list_keys",
    "load_identity",
    "load_signing_key",
    "read_passphrase",
    "rotate",
    "show",
    "trust",
    "trusted_keys",
]
