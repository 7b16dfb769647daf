"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def movielens_dir() -> Path:
    """The folder named by GNNREC_DATA_DIR, holding ml-100k; skips the test where it is absent.

    CI always sets it (see .ci/run), so real-data tests always run there.
    """
    root = os.environ.get("GNNREC_DATA_DIR")
    if not root or not (Path(root) / "ml-100k" / "u.data").is_file():
        pytest.skip("needs MovieLens 100K: set GNNREC_DATA_DIR (see README, 'Data')")
    return Path(root)
