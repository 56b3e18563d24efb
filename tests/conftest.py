"""Shared fixtures and helpers: the official reference outputs in ../shared/vidtok_reference, a PNG checker; XLA_FLAGS restored
and the persistent compilation cache off in every test, compiled programs freed after every module."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "vidtok_reference"
REFERENCE_CASES = ["kl_causal_488_4chn", "fsq_causal_488_32768", "kl_noncausal_488_16chn",
                   "fsq_noncausal_488_262144", "v11_kl_causal_488_4chn"]


@pytest.fixture(autouse=True, scope="session")
def _no_persistent_compilation_cache():
    """Commands run in-process would switch JAX's persistent cache on for every later test in the session;
    XLA has crashed writing cache entries in a long-lived test process, so no test uses it unless it says so."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDTOK_JAX_COMPILATION_CACHE", "0")
        yield


@pytest.fixture(autouse=True, scope="module")
def _compiled_programs_freed_after_each_module():
    """Every compiled XLA program holds memory mappings; kept for the whole session they pass the kernel's
    limit per process (vm.max_map_count, 65530) and the next compile crashes. Each module starts afresh."""
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture(autouse=True)
def _xla_flags_restored(monkeypatch):
    """Commands run in-process add to XLA_FLAGS; later tests' subprocesses must not inherit that."""
    if "XLA_FLAGS" in os.environ:
        monkeypatch.setenv("XLA_FLAGS", os.environ["XLA_FLAGS"])
    else:
        monkeypatch.delenv("XLA_FLAGS", raising=False)


def reference_dir(case: str) -> Path:
    folder = REFERENCE / case
    if not (folder / "reference.npz").is_file():
        pytest.skip(f"reference outputs missing: {folder} (the shared/vidtok_reference folder beside the repo)")
    return folder


def channels_last(array: np.ndarray) -> np.ndarray:
    """(B, C, T, H, W) as the official code stores it → (B, T, H, W, C)."""
    return np.moveaxis(np.asarray(array), 1, -1)


def rel_l2(actual, expected) -> float:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30))


def read_png(path: Path) -> tuple[int, int]:
    """(width, height) of an 8-bit RGB PNG, after Pillow has verified the file and decoded every pixel."""
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        image.verify()
    with Image.open(path) as image:
        image.load()
        return image.size


def documentation_text() -> str:
    """README.md and every docs/*.md page, in that order: the user-facing text whose examples and commands are tested."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return "\n".join(page.read_text() for page in pages)

