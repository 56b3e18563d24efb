"""Torch-free checkpoint reading: safety, corrupt files, key mapping, safetensors round trip."""

from __future__ import annotations

import os
import pickle
import zipfile

import jax
import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.checkpoints.state_dict import read_state_dict
from vidtok_jax.checkpoints.torch_pickle import read_torch_archive
from tests.conftest import reference_dir


class _RunsShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _torch_like_archive(path, payload):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(payload, protocol=2))
        archive.writestr("archive/byteorder", "little")


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    _torch_like_archive(path, {"state_dict": _RunsShellCommand(marker)})
    with pytest.raises(vt.CheckpointError, match=r"refusing to load the global '(posix|os|nt)\.system'"):
        read_torch_archive(path)
    assert not marker.exists()


def test_plain_containers_are_allowed(tmp_path):
    path = tmp_path / "plain.ckpt"
    _torch_like_archive(path, {"epoch": 3, "names": ["a", "b"], "ratio": 0.5})
    assert read_torch_archive(path) == {"epoch": 3, "names": ["a", "b"], "ratio": 0.5}


@pytest.fixture(scope="module")
def reference_ckpt():
    return reference_dir("kl_causal_488_4chn")


def test_official_checkpoint_reads_tensors_and_lightning_entries(reference_ckpt):
    obj = read_torch_archive(reference_ckpt / "model.ckpt")
    assert {"state_dict", "optimizer_states", "global_step"} <= set(obj)
    weight = obj["state_dict"]["encoder.conv_in.conv.weight"]
    assert weight.shape == (16, 3, 3, 3, 3) and weight.dtype == np.float32 and np.abs(weight).sum() > 0


def test_truncated_checkpoint_gives_clear_error(reference_ckpt, tmp_path):
    data = (reference_ckpt / "model.ckpt").read_bytes()
    path = tmp_path / "truncated.ckpt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(vt.CheckpointError, match="truncated or corrupt"):
        vt.load_tokenizer(reference_ckpt / "config.yaml", path)


def test_corrupt_storage_gives_clear_error(reference_ckpt, tmp_path):
    data = bytearray((reference_ckpt / "model.ckpt").read_bytes())
    with zipfile.ZipFile(reference_ckpt / "model.ckpt") as archive:
        info = archive.getinfo("model/data/0")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 64
    data[start: start + 16] = b"\xff" * 16
    path = tmp_path / "corrupt.ckpt"
    path.write_bytes(bytes(data))
    with pytest.raises(vt.CheckpointError, match="corrupt"):
        read_state_dict(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.ckpt"
    path.write_text("hello")
    with pytest.raises(vt.CheckpointError, match="not a zip archive"):
        read_state_dict(path)
    with pytest.raises(vt.CheckpointError, match="not found"):
        read_state_dict(tmp_path / "missing.ckpt")


def test_wrong_config_lists_missing_unexpected_and_mismatched_keys(reference_ckpt):
    other = reference_dir("fsq_causal_488_32768")
    with pytest.raises(vt.CheckpointError) as err:
        vt.load_tokenizer(other / "config.yaml", reference_ckpt / "model.ckpt")
    message = str(err.value)
    assert "shape mismatch" in message and "encoder.conv_out.conv.weight" in message


def test_bundled_full_size_config_rejects_small_checkpoint(reference_ckpt):
    with pytest.raises(vt.CheckpointError, match="does not fit this model config"):
        vt.load_tokenizer("vidtok_kl_causal_488_4chn", reference_ckpt / "model.ckpt")


def test_safetensors_export_round_trip(reference_ckpt, tmp_path):
    original = read_state_dict(reference_ckpt / "model.ckpt")
    tok = vt.load_tokenizer(reference_ckpt / "config.yaml", reference_ckpt / "model.ckpt")
    assert "loss.logvar" in tok.extras and "loss.discriminator.main.0.weight" in tok.extras
    path = tmp_path / "export.safetensors"
    vt.export_safetensors(tok, path)
    exported = read_state_dict(path)
    assert set(exported) == set(original)
    for key, value in original.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
    reloaded = vt.load_tokenizer(reference_ckpt / "config.yaml", path)
    for a, b in zip(jax.tree_util.tree_leaves(tok.params), jax.tree_util.tree_leaves(reloaded.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_truncated_safetensors(reference_ckpt, tmp_path):
    tok = vt.load_tokenizer(reference_ckpt / "config.yaml", reference_ckpt / "model.ckpt")
    path = tmp_path / "model.safetensors"
    vt.export_safetensors(tok, path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(vt.CheckpointError, match="truncated"):
        read_state_dict(path)
