"""``vidtok-jax evaluate`` on small clips with the small reference model: metrics, pictures and failures."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import read_png
from vidtok_jax.cli import main
from vidtok_jax.cli.evaluate import EvaluationOptions, _reconstruct
from vidtok_jax.cli.frames import Preprocessing
from vidtok_jax.cli.model import ModelOptions
from vidtok_jax.cli.plots import CAPTION_HEIGHT
from vidtok_jax.data.chunks import pad_end, regroup
from vidtok_jax.data.transforms import resize_shorter_side_and_center_crop, to_model_range
from vidtok_jax.data.video import read_video, write_video
from vidtok_jax.metrics import psnr, ssim
from vidtok_jax.vidtok.tokenizer import load_tokenizer

pytestmark = pytest.mark.integration  # evaluation runs end to end

MODEL = Path(__file__).resolve().parents[1].parent / "shared" / "vidtok_reference" / "kl_causal_488_4chn"
SIZE, FRAMES = 32, 9
FAST = ["--size", str(SIZE), "--frames", str(FRAMES), "--lpips-net", "alex"]


def model_args() -> list[str]:
    if not (MODEL / "model.ckpt").is_file():
        pytest.skip(f"reference model missing: {MODEL}")
    return ["--config", str(MODEL / "config.yaml"), "--checkpoint", str(MODEL / "model.ckpt")]


def run(*args: str) -> tuple[int, str, str]:
    """Run the command in-process; returns (status, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["evaluate", *model_args(), *args])
    return status, stdout.getvalue(), stderr.getvalue()


def moving_gradient(num_frames: int, size: int = 48) -> np.ndarray:
    ramp = np.linspace(0, 255, size)
    return np.stack([np.broadcast_to(((ramp[None, :, None] + np.arange(size)[:, None, None] * step + 9 * step) % 256),
                                     (size, size, 3)) for step in range(num_frames)]).astype(np.uint8)


def make_videos(folder: Path, lengths: list[int]) -> Path:
    folder.mkdir()
    for number, length in enumerate(lengths):
        write_video(folder / f"clip{number}.mp4", moving_gradient(length), 30)
    return folder


def expected_metrics(path: Path) -> tuple[float, float]:
    """Mean PSNR and SSIM of a video as the protocol defines them, computed directly with the tokenizer."""
    tokenizer = load_tokenizer(MODEL / "config.yaml", MODEL / "model.ckpt")
    frames, _ = read_video(path)
    inputs = to_model_range(resize_shorter_side_and_center_crop(frames, SIZE))
    outputs = np.concatenate([
        np.asarray(tokenizer.reconstruct(np.concatenate(list(pad_end([clip], FRAMES)))[None]))[0][:len(clip)]
        for clip in regroup([inputs], FRAMES)])
    outputs = np.clip(outputs, -1, 1)
    return float(np.mean(psnr(inputs, outputs))), float(np.mean(ssim(inputs, outputs)))


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory) -> tuple[Path, Path, int, str]:
    """One run over two good clips and a corrupt file: (data folder, output folder, status, stderr)."""
    root = tmp_path_factory.mktemp("evaluate")
    data = make_videos(root / "videos", [12, 20])
    (data / "corrupt.mp4").write_bytes(b"not a video")
    status, _, stderr = run("--data", str(data), "--out", str(root / "out"), "--no-fvd", *FAST)
    return data, root / "out", status, stderr


def test_metrics_equal_direct_computation(evaluation):
    data, out, _, _ = evaluation
    report = json.loads((out / "metrics.json").read_text())
    videos = {video["name"]: video for video in report["videos"]}
    assert sorted(videos) == ["clip0.mp4", "clip1.mp4"]
    assert [videos["clip0.mp4"]["frames"], videos["clip1.mp4"]["frames"]] == [12, 20]
    for name, video in videos.items():
        expected_psnr, expected_ssim = expected_metrics(data / name)
        assert video["psnr"] == pytest.approx(expected_psnr, abs=1e-3)
        assert video["ssim"] == pytest.approx(expected_ssim, abs=1e-4)
        assert len(video["psnr_per_frame"]) == video["frames"]
        later = [value for index, value in enumerate(video["psnr_per_frame"]) if index % FRAMES]
        assert video["psnr_later"] == pytest.approx(np.mean(later), abs=1e-3)
    for metric in ("psnr", "ssim", "lpips"):
        assert report["mean"][metric] == pytest.approx(np.mean([video[metric] for video in videos.values()]))
    assert report["settings"]["frames"] == FRAMES and report["settings"]["lpips_net"] == "alex"
    assert report["fvd"] is None and "--no-fvd" in report["fvd_note"]


def test_corrupt_video_is_reported_and_fails_the_run(evaluation):
    _, out, status, stderr = evaluation
    assert status == 1
    assert "corrupt.mp4" in json.loads((out / "metrics.json").read_text())["failures"]
    assert "1 of 3 video(s) failed" in stderr and "corrupt.mp4" in stderr


def test_pictures_are_png_of_the_expected_sizes(evaluation):
    _, out, _, _ = evaluation
    grids, plots = sorted(out.glob("*-frames.png")), sorted(out.glob("*-psnr.png"))
    assert len(grids) == len(plots) == 2
    for grid in grids:  # captions over 3 rows (input, reconstruction, error) of 6 evenly spaced frames
        assert read_png(grid) == (6 * SIZE, CAPTION_HEIGHT + 3 * SIZE)
    for plot in plots:
        assert read_png(plot) == (640, 320)
    assert not list(out.glob(".*.partial"))


def test_empty_folder_and_csv_without_videos_column_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "meta.csv").write_text("path,caption\na.mp4,x\n")
    for data in (tmp_path / "empty", tmp_path / "meta.csv"):
        status, _, stderr = run("--data", str(data), "--out", str(tmp_path / "out"), *FAST)
        assert status == 1
        assert stderr.startswith("vidtok-jax: error:") and stderr.count("\n") == 1


def test_frames_must_fit_the_model(tmp_path):
    status, _, stderr = run("--data", str(tmp_path), "--frames", "8", "--size", str(SIZE))
    assert status == 2 and "1 + a multiple" in stderr


@pytest.mark.slow
def test_fvd_over_two_videos(tmp_path):
    data = make_videos(tmp_path / "videos", [13, 13])
    status, stdout, _ = run("--data", str(data), "--out", str(tmp_path / "out"), "--size", str(SIZE),
                            "--frames", "13", "--lpips-net", "alex", "--max-pictures", "0")
    report = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert status == 0 and report["fvd_note"] is None
    assert np.isfinite(report["fvd"]) and report["fvd"] >= 0 and "FVD:" in stdout
    assert not list((tmp_path / "out").glob("*.png"))


def test_missing_metric_weights_fail_before_the_model_is_loaded(tmp_path, monkeypatch, capsys):
    from vidtok_jax import cli
    from vidtok_jax.metrics import weights

    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "empty_cache"))
    monkeypatch.setattr(weights, "_installed_copy", lambda weight: None)
    monkeypatch.setattr(cli, "load_model", lambda options: pytest.fail("the model was loaded before the check"))
    data = make_videos(tmp_path / "videos", [9])
    assert main(["evaluate", "--data", str(data), "--out", str(tmp_path / "out"), *FAST]) == 1
    assert "metric weights missing" in capsys.readouterr().err



@pytest.mark.parametrize("whole_video", [False, True], ids=["clips", "whole video"])
def test_reconstructions_stay_on_the_device_for_scoring(tmp_path, whole_video):
    """The frames to score are device arrays: the metrics run where the reconstruction is made, and only their
    values (and the few frames a picture shows) come back to the host."""
    model_args()
    data = make_videos(tmp_path / "videos", [12])
    tokenizer = load_tokenizer(MODEL / "config.yaml", MODEL / "model.ckpt")
    inputs, outputs = _reconstruct(tokenizer, str(data / "clip0.mp4"), Preprocessing(size=SIZE),
                                   ModelOptions(config=str(MODEL / "config.yaml")),
                                   EvaluationOptions(frames=FRAMES, whole_video=whole_video))
    assert isinstance(inputs, jax.Array) and isinstance(outputs, jax.Array)
    assert inputs.shape == outputs.shape == (12, SIZE, SIZE, 3)
    assert float(jnp.max(jnp.abs(outputs))) <= 1.0
