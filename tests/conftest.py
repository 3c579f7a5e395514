"""Shared fixtures. Third-party vectors are read from ../shared/testvectors (skip if absent)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTVECTORS = Path(os.environ.get("CLUETOOL_TESTVECTORS", ROOT.parent / "shared" / "testvectors"))


@pytest.fixture(scope="session")
def testvectors() -> Path:
    """The shared test-vector folder; the test is skipped when it is not there."""
    if not TESTVECTORS.is_dir():
        pytest.skip(f"test vectors not found at {TESTVECTORS}")
    return TESTVECTORS


def require_tool(name: str) -> str:
    """Path of an external CLI (age, minisign, tar); skip the test cleanly when absent."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} CLI not installed")
    return path
