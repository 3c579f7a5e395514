"""The audit trail (docs/audit.md): the audit entries of the store as an RFC 6962 Merkle tree,
signed C2SP tlog-checkpoints, inclusion and consistency proofs, verification of the
store or of an export, and exports for auditors.

Library entry points:

- ``checkpoint(store, secret_key, *, now, origin=None)`` — sign and store a checkpoint;
- ``verify_store(store, keys, *, against=(), progress=None)`` / ``verify_export(dir, keys,
  *, previous=None, against=(), progress=None)`` — an ``AuditReport`` of findings;
  ``against``: checkpoints kept outside the home (``read_against``,
  ``cosigned_checkpoints``); ``export_keys`` — the out-of-band keys for an export;
- ``prove_inclusion(store, seq)`` / ``prove_consistency(store, size1, size2=None)`` and
  ``check_proof(data, keys=None)``;
- ``export(store, out_dir, *, public_key_text)``; ``list_entries(store, ...)``;
- ``home_keys(home, name)`` / ``read_key_files(paths)`` — the ``TrustedKeys`` to verify with;
  ``generate_checkpoint_key`` / ``checkpoint_key_name`` — the home's own checkpoint key;
- ``witness(export_dir, ...)`` (the auditor's side, C2SP tlog-cosignature) and
  ``import_cosignature(home, note, keys, witness_key)``;
- ``replay.replay_home(home)`` — the state tables rebuilt from the log and compared;
- ``confirm_text(home, store, seq, text)`` — a note or reason against its keyed hash.
See ``docs/audit.md``.
"""

from cluetool.audit.checkpoints import (
    CheckpointInfo,
    CheckpointKey,
    checkpoint_key_name,
    generate_checkpoint_key,
    key_fingerprint,
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
from cluetool.audit.engine import AuditFinding, AuditReport, AuditSummary
from cluetool.audit.export_verify import export_keys, verify_export
from cluetool.audit.listing import AuditLog, list_entries
from cluetool.audit import replay
from cluetool.audit.proofs import (
    ConsistencyProof,
    InclusionProof,
    ProofCheck,
    check_proof,
    prove_consistency,
    prove_inclusion,
    tree_root,
)
from cluetool.audit.tree import AuditTree
from cluetool.audit.notes import TextCheck, confirm_text
from cluetool.audit.verify import Witnessed, verify_store
from cluetool.audit.witness import (
    CosignatureImport,
    WitnessResult,
    cosigned_checkpoints,
    import_cosignature,
    import_cosignature_file,
    read_against,
    read_witness_key,
    read_witness_secret_key,
    witness,
    witness_name,
)

__all__ = [
    "AuditFinding",
    "AuditLog",
    "AuditReport",
    "AuditSummary",
    "AuditTree",
    "CheckpointInfo",
    "CheckpointKey",
    "CheckpointList",
    "ConsistencyProof",
    "CosignatureImport",
    "ExportResult",
    "InclusionProof",
    "ProofCheck",
    "TextCheck",
    "TrustedKeys",
    "WitnessResult",
    "Witnessed",
    "check_proof",
    "checkpoint",
    "checkpoint_key_name",
    "confirm_text",
    "cosigned_checkpoints",
    "default_origin",
    "export",
    "export_keys",
    "generate_checkpoint_key",
    "home_keys",
    "import_cosignature",
    "import_cosignature_file",
    "key_fingerprint",
    "list_checkpoints",
    "list_entries",
    "open_checkpoint",
    "prove_consistency",
    "prove_inclusion",
    "read_against",
    "read_key_files",
    "read_witness_key",
    "read_witness_secret_key",
    "tree_root",
    "verify_export",
    "verify_store",
    "witness",
    "witness_name",
    "write_checkpoint",
]
