"""`vidtok-jax flex-encode` / `flex-decode` on a small VideoFlexTok over the bundled VidTok, and their refusals."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.cli import main
from vidtok_jax.cli.plots import CAPTION_HEIGHT
from vidtok_jax.cli.demo import DEMO_CLIP
from vidtok_jax.data.video import probe_video
from tests.conftest import read_png
from tests.helpers import R, small

pytestmark = pytest.mark.integration  # the VideoFlexTok commands end to end


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


@pytest.mark.parametrize("frames", [33, 49])
def test_truncated_token_files_decode_over_several_chunks(flex_file, tmp_path, frames):
    tokens, video = tmp_path / "clip.npz", tmp_path / "clip.mp4"
    encode = ["flex-encode", str(DEMO_CLIP), str(tokens), *_model(flex_file), "--size", "32", "--max-frames", str(frames)]
    assert main([*encode, "--keep", "3"]) == 0
    with np.load(tokens) as archive:
        ids, metadata = archive["tokens"], json.loads(archive["metadata"].item())
    assert ids.shape == (5 + 4 * (frames - 17) // 16, 3) and metadata["tokens_per_frame"] == 3
    assert main(["flex-decode", str(tokens), str(video), *_model(flex_file), "--steps", "1"]) == 0
    info = probe_video(video)
    assert (info.num_frames, info.height, info.width) == (frames, 32, 32)
    assert main([*encode, "--keep", str(R + 1)]) == 1


def test_refusals_leave_nothing_behind(flex_file, tmp_path, capsys):
    tokens = tmp_path / "clip.npz"
    assert main(["flex-encode", str(DEMO_CLIP), str(tokens), *_model(flex_file), "--size", "32", "--max-frames", "17"]) == 0
    out = tmp_path / "out.mp4"
    assert main(["flex-decode", str(tokens), str(out), *_model(flex_file), "--keep", str(R + 1), "--steps", "1"]) == 1
    assert f"holds {R} tokens per latent frame" in capsys.readouterr().err
    assert main(["flex-decode", str(tokens), str(out), *_model(flex_file), "--keep-sweep", f"1,{R + 1}", "--steps", "1"]) == 1
    assert f"--keep-sweep {R + 1}: the file holds {R} tokens" in capsys.readouterr().err
    assert main(["flex-decode", str(tokens), str(out), *_model(flex_file), "--keep-sweep", "0,4"]) == 2
    assert main(["flex-decode", str(DEMO_CLIP), str(out), *_model(flex_file)]) == 1
    assert "not a token file written by 'vidtok-jax flex-encode'" in capsys.readouterr().err
    assert main(["flex-decode", str(tokens), str(tmp_path / "missing" / "out.mp4"), *_model(flex_file)]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["flex-encode", str(DEMO_CLIP), str(tmp_path / "x.npz"), "--checkpoint", str(flex_file), "--size", "32"]) == 1
    assert "holds no VidTok weights" in capsys.readouterr().err
    assert main(["flex-encode", str(DEMO_CLIP), str(tmp_path / "y.npz"), "--checkpoint", str(DEMO_CLIP), "--size", "32"]) == 1
    assert "not a readable .safetensors file" in capsys.readouterr().err
    flex_only = ["--checkpoint", str(flex_file)]
    assert main(["flex-encode", str(DEMO_CLIP), str(tmp_path / "z.npz"), *flex_only, "--vidtok-config",
                 "vidtok_fsq_causal_488_262144"]) == 1
    assert "is an FSQ (discrete) VidTok" in capsys.readouterr().err
    assert main(["flex-encode", str(DEMO_CLIP), str(tmp_path / "z.npz"), *flex_only, "--vidtok-config",
                 "vidtok_kl_causal_488_16chn"]) == 1
    assert "needs its weights: pass --vidtok-checkpoint" in capsys.readouterr().err
    assert main(["flex-encode", str(DEMO_CLIP), str(tmp_path / "z.npz"), *_model(flex_file), "--size", "128"]) == 1
    assert "frames of 128x128 pixels are larger than this model takes (at most 64x64)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.npz"]


def _altered(tokens_path, tmp_path, ids=None, **metadata_changes):
    with np.load(tokens_path) as archive:
        ids_, metadata = archive["tokens"], json.loads(archive["metadata"].item())
    for key, value in metadata_changes.items():
        if value is _DROP:
            metadata.pop(key)
        else:
            metadata[key] = value
    path = tmp_path / "altered.npz"
    np.savez(path, tokens=ids_ if ids is None else ids(ids_), metadata=np.array(json.dumps(metadata)))
    return path


_DROP = object()
ALTERED = [
    (dict(num_frames=_DROP), "num_frames must be a whole number"),
    (dict(num_frames=-5), "num_frames must be a whole number"),
    (dict(num_frames=10 ** 9), "cannot hold the 1000000000 frames"),
    (dict(fps=_DROP), "fps must be a number"),
    (dict(fps=float("nan")), "fps must be a number"),
    (dict(size=[32]), r"size must be \[height, width\]"),
    (dict(size="32x32"), r"size must be \[height, width\]"),
    (dict(ids=lambda ids: ids.astype(np.int64) + 2 ** 32), r"token ids must be in \[0, "),
    (dict(ids=lambda ids: ids.astype(np.float32)), "not integer token ids"),
]


@pytest.mark.parametrize("change, message", ALTERED)
def test_altered_token_files_are_refused_before_the_decode(flex_file, tmp_path, capsys, change, message):
    tokens = tmp_path / "clip.npz"
    assert main(["flex-encode", str(DEMO_CLIP), str(tokens), *_model(flex_file), "--size", "32", "--max-frames", "17"]) == 0
    altered = _altered(tokens, tmp_path, **change)
    capsys.readouterr()
    assert main(["flex-decode", str(altered), str(tmp_path / "out.mp4"), *_model(flex_file), "--steps", "1"]) == 1
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err and not (tmp_path / "out.mp4").exists()


def test_an_output_name_the_writer_cannot_make_is_refused_before_the_decode(flex_file, tmp_path, capsys):
    tokens = tmp_path / "clip.npz"
    assert main(["flex-encode", str(DEMO_CLIP), str(tokens), *_model(flex_file), "--size", "32", "--max-frames", "17"]) == 0
    capsys.readouterr()
    assert main(["flex-decode", str(tokens), str(tmp_path / "out.txt"), *_model(flex_file), "--steps", "1"]) == 1
    assert "give a video file name such as out.mp4" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.npz"]


def test_flex_demo_writes_a_row_per_k_for_a_model_that_says_its_clip_size(tmp_path, capsys):
    flex = small(vidtok=vt.load_tokenizer(), vidtok_id="vidtok_jax_default")
    flex.latent_size = (8, 8)  # 32 x 32 pixels through the bundled VidTok, as train.py export writes it
    folder = tmp_path / "model"
    vt.export_videoflextok(flex, folder)
    out_dir = tmp_path / "demo"
    out_dir.mkdir()
    assert main(["flex-demo", "--checkpoint", str(folder), "--output", str(out_dir), "--steps", "2"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\s+(\d+)\s+(-?[\d.]+)$", out, flags=re.M)
    assert [int(k) for k, _ in rows] == [1, 2, 4, R] and "VidTok ceiling" in out
    assert "17 frames at 32x32" in out
    info = probe_video(out_dir / "flex-demo.mp4")
    assert (info.num_frames, info.width) == (17, 32 * (2 + len(rows)))  # input, VidTok, then each k
    width, height = read_png(out_dir / "flex-demo.png")
    assert height > (2 + len(rows)) * 64 and width > 6 * 64  # a row per panel, six frames at twice their size
