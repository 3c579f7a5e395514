"""Shared fixtures. Third-party test vectors live in tests/vectors/ (see its README.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTVECTORS = ROOT / "tests" / "vectors"


@pytest.fixture(scope="session")
def testvectors() -> Path:
    """The repository's copy of the public test vectors (never skipped: they ship with the tests)."""
    assert TESTVECTORS.is_dir(), f"test vectors missing from the repository: {TESTVECTORS}"
    return TESTVECTORS


def require_tool(name: str) -> str:
    """Path of an external CLI (age, minisign, tar); skip the test cleanly when absent."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} CLI not installed")
    return path


from tests.pgfixture import pg_cluster, pg_databases, pg_url, store_backend  # noqa: E402,F401  (fixtures)
