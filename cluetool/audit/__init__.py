"""The audit trail (DESIGN §9): the audit entries of the store as an RFC 6962 Merkle tree,
signed C2SP tlog-checkpoints, inclusion and consistency proofs, verification of the
store or of an export, and exports for auditors.

Library entry points:

- ``checkpoint(store, secret_key, *, now, origin=None)`` — sign and store a checkpoint;
- ``verify_store(store, keys, *, progress=None)`` / ``verify_export(dir, keys, *,
  previous=None, progress=None)`` — an ``AuditReport`` of findings;
- ``prove_inclusion(store, seq)`` / ``prove_consistency(store, size1, size2=None)`` and
  ``check_proof(data, keys=None)``;
- ``export(store, out_dir, *, public_key_text)``; ``list_entries(store, ...)``;
- ``home_keys(home, name)`` / ``read_key_files(paths)`` — the ``TrustedKeys`` to verify with.
"""

from cluetool.audit.checkpoints import (
    CheckpointInfo,
    CheckpointList,
    TrustedKeys,
    checkpoint,
    default_origin,
    home_keys,
    list_checkpoints,
    open_checkpoint,
    read_key_files,
    write_checkpoint,
)
from cluetool.audit.export import ExportResult, export
from cluetool.audit.log import (
    AuditLog,
    AuditTree,
    ConsistencyProof,
    InclusionProof,
    list_entries,
    prove_consistency,
    prove_inclusion,
    tree_root,
)
from cluetool.audit.notes import TextCheck, confirm_text
from cluetool.audit.verify import (
    AuditFinding,
    AuditReport,
    AuditSummary,
    ProofCheck,
    check_proof,
    verify_export,
    verify_store,
)

__all__ = [
    "AuditFinding",
    "AuditLog",
    "AuditReport",
    "AuditSummary",
    "AuditTree",
    "CheckpointInfo",
    "CheckpointList",
    "ConsistencyProof",
    "ExportResult",
    "InclusionProof",
    "ProofCheck",
    "TextCheck",
    "TrustedKeys",
    "check_proof",
    "checkpoint",
    "confirm_text",
    "default_origin",
    "export",
    "home_keys",
    "list_checkpoints",
    "list_entries",
    "open_checkpoint",
    "prove_consistency",
    "prove_inclusion",
    "read_key_files",
    "tree_root",
    "verify_export",
    "verify_store",
    "write_checkpoint",
]
