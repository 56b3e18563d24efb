"""Models named by Hub id resolve through huggingface_hub's cache, offline, laid out as huggingface_hub lays it out."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

import vidtok_jax as vt
from tests.conftest import REFERENCE
from tests.helpers import small

pytest.importorskip("huggingface_hub", reason="the hub extra (huggingface_hub) is not installed")
hub_constants = importlib.import_module("huggingface_hub.constants")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def cached_repo(cache: Path, repo_id: str) -> Path:
    """The snapshot folder of ``repo_id`` in a Hub cache at ``cache`` (refs/main names the snapshot)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    return snapshot


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return cache


def test_a_videoflextok_release_loads_by_its_hub_id(hub_cache):
    flex = small()
    vt.export_videoflextok(flex, cached_repo(hub_cache, "EPFL-VILAB/videoflextok_d18_d28") / "model.safetensors")
    loaded = vt.load_videoflextok("EPFL-VILAB/videoflextok_d18_d28")
    for a, b in zip(*(jax.tree_util.tree_leaves(m.params) for m in (flex, loaded))):
        np.testing.assert_array_equal(a, b)


def test_a_vidtok_release_loads_from_the_microsoft_repository(hub_cache):
    case = REFERENCE / "kl_causal_488_4chn"
    if not (case / "model.ckpt").is_file():
        pytest.skip(f"reference model missing: {case}")
    snapshot = cached_repo(hub_cache, "microsoft/VidTok")
    (snapshot / "checkpoints").mkdir()
    shutil.copy(case / "model.ckpt", snapshot / "checkpoints" / "config.ckpt")
    loaded = vt.load_tokenizer(case / "config.yaml", checkpoint="microsoft/VidTok")
    local = vt.load_tokenizer(case / "config.yaml", checkpoint=case / "model.ckpt")
    for a, b in zip(*(jax.tree_util.tree_leaves(m.params) for m in (local, loaded))):
        np.testing.assert_array_equal(a, b)


def test_a_release_missing_from_the_cache_names_the_download_command(hub_cache):
    with pytest.raises(vt.CheckpointError, match=r"HF_HUB_OFFLINE is set .*hf download EPFL-VILAB/videoflextok_d18_d18_k600"):
        vt.load_videoflextok("EPFL-VILAB/videoflextok_d18_d18_k600")
    with pytest.raises(vt.CheckpointError, match=r"hf download microsoft/VidTok checkpoints/vidtok_kl_causal_488_4chn.ckpt"):
        vt.load_tokenizer("vidtok_kl_causal_488_4chn", checkpoint="microsoft/VidTok")
    with pytest.raises(vt.ConfigError, match="give config= the name of the release"):
        vt.load_tokenizer(checkpoint="microsoft/VidTok")

