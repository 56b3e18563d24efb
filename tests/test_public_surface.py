"""Promises of the public surface that new users met broken: float16 refused, no unsafe-load advice,
an SPDX license string that future setuptools keep building."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.cli import main
from vidtok_jax.metrics.psnr import psnr
from tests.conftest import REPO


@pytest.mark.parametrize("dtype", ["float16", "int8", "no-such-type"])
def test_unsupported_compute_dtypes_are_refused(dtype):
    with pytest.raises(vt.InputError, match="use jnp.float32 or jnp.bfloat16"):
        vt.load_tokenizer(dtype=dtype)
    with pytest.raises(vt.InputError, match="use jnp.float32 or jnp.bfloat16"):
        vt.load_videoflextok("any.safetensors", dtype=dtype)


def test_a_pickled_npz_is_refused_without_unsafe_advice(tmp_path, capsys):
    path = tmp_path / "random.npz"
    np.savez(path, tokens=np.array([{"x": 1}], dtype=object))
    assert main(["decode", str(path), str(tmp_path / "out.mp4")]) == 1
    err = capsys.readouterr().err
    assert "not a token file" in err and "never loaded" in err and "allow_pickle" not in err


def test_checkpoint_paths_are_checked_before_asking_for_a_config(tmp_path):
    with pytest.raises(vt.CheckpointError, match="checkpoint not found: nonexistent.ckpt"):
        vt.load_tokenizer(checkpoint="nonexistent.ckpt")
    with pytest.raises(vt.CheckpointError, match="README.md is not a checkpoint"):
        vt.load_tokenizer(checkpoint=str(REPO / "README.md"))
    (tmp_path / "model.ckpt").write_bytes(b"")
    with pytest.raises(vt.ConfigError, match="needs its config.*'vidtok_jax_default' for weights exported"):
        vt.load_tokenizer(checkpoint=str(tmp_path / "model.ckpt"))
    with pytest.raises(vt.ConfigError, match="did you mean vidtok_jax_default"):
        vt.load_model_config("vidtok_jax_defualt")


@pytest.mark.parametrize("tiling", [["--tile", "64", "64", "--tile-overlap", "80"], ["--tile", "30", "30"]])
def test_bad_tiles_are_usage_errors_before_any_work(tiling, tmp_path, capsys):
    from vidtok_jax.cli.demo import DEMO_CLIP
    out = tmp_path / "out.mp4"
    assert main(["reconstruct", str(DEMO_CLIP), str(out), *tiling]) == 2
    assert "--tile/--tile-overlap" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("command", ["reconstruct", "encode"])
def test_output_paths_are_checked_before_any_work(command, tmp_path, capsys, monkeypatch):
    from vidtok_jax.cli import model
    from vidtok_jax.cli.demo import DEMO_CLIP
    monkeypatch.setattr(model, "load_tokenizer", lambda *a, **k: pytest.fail("the model was loaded"))
    assert main([command, str(DEMO_CLIP), str(tmp_path / "missing" / "out")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main([command, str(DEMO_CLIP), str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err


def test_read_and_write_video_round_trip(tmp_path):
    from vidtok_jax.cli.demo import DEMO_CLIP
    video, fps = vt.read_video(DEMO_CLIP, size=64, fps=6.25, max_frames=9)
    assert video.shape == (1, 9, 64, 64, 3) and video.dtype == np.float32 and fps == pytest.approx(6.25)
    assert -1.0 <= video.min() < video.max() <= 1.0
    vt.write_video(tmp_path / "copy.mp4", video, fps)
    again, _ = vt.read_video(tmp_path / "copy.mp4")
    assert again.shape == video.shape and np.abs(again - video).mean() < 0.05  # H.264, lossy
    with pytest.raises(vt.InputError, match="one video"):
        vt.write_video(tmp_path / "two.mp4", np.zeros((2, 3, 8, 8, 3)), 8)


def test_a_command_never_writes_over_its_input(tmp_path, capsys):
    from vidtok_jax.cli.demo import DEMO_CLIP
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(DEMO_CLIP.read_bytes())
    (tmp_path / "alias.mp4").symlink_to(clip)
    for output in (clip, tmp_path / "alias.mp4"):
        assert main(["reconstruct", str(clip), str(output)]) == 1
        assert "would destroy the input" in capsys.readouterr().err
    assert clip.read_bytes() == DEMO_CLIP.read_bytes()


def test_decode_gives_back_the_input_frames_with_num_frames():
    tok = vt.load_tokenizer()  # causal v1.1: 17 frames are padded to 20 and decode to 20
    video = np.random.default_rng(0).uniform(-1, 1, (1, 17, 32, 32, 3)).astype(np.float32)
    z = tok.encode(video)
    assert tok.decode(z).shape[1] == 20
    np.testing.assert_allclose(tok.decode(z, num_frames=17), tok.reconstruct(video), atol=1e-5)
    with pytest.raises(vt.InputError, match="decode into 20 frames"):
        tok.decode(z, num_frames=21)


@pytest.mark.parametrize("index", [(0, 0, 0, 0, 0), (0, 3, 10, 10, 1), (0, 8, 31, 31, 2), "random"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_one_bad_value_anywhere_is_refused(index, bad):
    tok = vt.load_tokenizer()
    video = np.zeros((1, 9, 32, 32, 3), np.float32)
    if index == "random":
        index = tuple(int(i) for i in np.random.default_rng(7).integers(0, video.shape))
    video[index] = bad
    for call in (tok.encode, tok.reconstruct):
        with pytest.raises(vt.InputError, match="NaN or Inf"):
            call(video)
    with pytest.raises(vt.InputError, match="NaN or infinite"):
        psnr(video, np.zeros_like(video))


def test_license_is_an_spdx_string():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert any(req.startswith("setuptools>=") and int(req.split(">=")[1]) >= 77
               for req in project["build-system"]["requires"])
