"""Folders the tests read: the repository, its shipped configs, the shared MNIST subset and the tests themselves."""

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
CONFIGS = REPO / "configs"
MNIST10K = REPO.parent / "shared" / "data" / "mnist10k"
