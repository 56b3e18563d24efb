"""`vidtok-jax flex-encode` / `flex-decode` on a small VideoFlexTok over the bundled VidTok, and their refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.cli import main
from vidtok_jax.cli.plots import CAPTION_HEIGHT
from vidtok_jax.cli.demo import DEMO_CLIP
from vidtok_jax.data.video import probe_video
from tests.test_flextok import R, small


@pytest.fixture(scope="module")
def flex_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("flex") / "small.safetensors"
    vt.export_videoflextok(small(), path)
    return path


def _model(flex_file) -> list[str]:
    return ["--checkpoint", str(flex_file), "--vidtok-config", "vidtok_jax_default"]


def test_encode_then_decode_a_keep_sweep(flex_file, tmp_path, capsys):
    tokens = tmp_path / "clip.npz"
    assert main(["flex-encode", str(DEMO_CLIP), str(tokens), *_model(flex_file), "--size", "32", "--max-frames", "20"]) == 0
    with np.load(tokens) as archive:
        ids, metadata = archive["tokens"], json.loads(archive["metadata"].item())
    assert ids.shape == (9, R) and ids.dtype == np.int32  # 20 frames padded to 33 = 17 + 16: 5 + 4 latent frames
    assert metadata["num_frames"] == 20 and metadata["size"] == [32, 32]
    assert "from 20 frames (13 padding frames added)" in capsys.readouterr().out
    video = tmp_path / "sweep.mp4"
    assert main(["flex-decode", str(tokens), str(video), *_model(flex_file), "--keep-sweep", "1,4", "--steps", "2"]) == 0
    info = probe_video(video)
    assert (info.num_frames, info.height, info.width) == (20, 32 + CAPTION_HEIGHT, 64)  # a "k=..." caption on top
    assert "k = 1, 4 from left to right" in capsys.readouterr().out


def test_refusals_leave_nothing_behind(flex_file, tmp_path, capsys):
    tokens = tmp_path / "clip.npz"
    assert main(["flex-encode", str(DEMO_CLIP), str(tokens), *_model(flex_file), "--size", "32", "--max-frames", "17"]) == 0
    out = tmp_path / "out.mp4"
    assert main(["flex-decode", str(tokens), str(out), *_model(flex_file), "--keep", str(R + 1), "--steps", "1"]) == 1
    assert f"holds {R} tokens per latent frame" in capsys.readouterr().err
    assert main(["flex-decode", str(tokens), str(out), *_model(flex_file), "--keep-sweep", "0,4"]) == 2
    assert main(["flex-decode", str(DEMO_CLIP), str(out), *_model(flex_file)]) == 1
    assert "not a token file written by 'vidtok-jax flex-encode'" in capsys.readouterr().err
    assert main(["flex-decode", str(tokens), str(tmp_path / "missing" / "out.mp4"), *_model(flex_file)]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["flex-encode", str(DEMO_CLIP), str(tmp_path / "x.npz"), "--checkpoint", str(flex_file), "--size", "32"]) == 1
    assert "holds no VidTok weights" in capsys.readouterr().err
    assert main(["flex-encode", str(DEMO_CLIP), str(tmp_path / "y.npz"), "--checkpoint", str(DEMO_CLIP), "--size", "32"]) == 1
    assert "not a readable .safetensors file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.npz"]
