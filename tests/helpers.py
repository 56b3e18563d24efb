"""Shared builders and subprocess helpers of the test suite: small perturbed VideoFlexTok models and latents, frames
that encode their own numbers, the tiny training settings, the environment and kill-at-a-checkpoint helper for
train.py subprocesses, and readers and comparers of what a run leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import jax
import numpy as np

import vidtok_jax as vt
from vidtok_jax.flextok.presets import flextok_hydra_config
from tests.conftest import REPO

# --- small VideoFlexTok models ---------------------------------------------------------------------------------------

R = 8
SMALL = dict(enc_dim=32, enc_depth=1, dec_dim=32, dec_depth=2, registers=R, head_dim=16, posemb_max=8)


def perturbed(flex: vt.VideoFlexTok, seed: int = 1, scale: float = 0.3) -> vt.VideoFlexTok:
    """The model with every parameter moved off its init (adaLN-zero would make outputs trivial)."""
    leaves, tree = jax.tree_util.tree_flatten(flex.params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    moved = [p + scale * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)]
    return vt.VideoFlexTok(flex.config, jax.tree_util.tree_unflatten(tree, moved), vidtok=flex.vidtok)


def small(seed: int = 0, vidtok=None, **overrides) -> vt.VideoFlexTok:
    return perturbed(vt.random_videoflextok(flextok_hydra_config(**{**SMALL, **overrides}), seed=seed, vidtok=vidtok))


def latents(shape=(2, 3, 8, 8, 16), seed=0):
    return jax.random.normal(jax.random.key(seed), shape)


# --- frames that encode their numbers --------------------------------------------------------------------------------

def numbered_frames(count: int, height: int = 32, width: int = 48) -> np.ndarray:
    """Flat-colored uint8 frames whose color encodes the frame number (up to 255), robust to lossy coding."""
    numbers = np.arange(count)
    colors = np.stack([16 * (numbers % 16) + 8, 16 * (numbers // 16) + 8, np.full(count, 128)], axis=-1)
    return np.broadcast_to(colors[:, None, None, :], (count, height, width, 3)).astype(np.uint8)


def frame_numbers(frames: np.ndarray) -> list[int]:
    """Invert ``numbered_frames`` on frames ``[..., T, H, W, 3]`` of pixel values in [0, 255]."""
    center = np.asarray(frames, dtype=np.float64)[..., frames.shape[-3] // 2, frames.shape[-2] // 2, :]
    low, high = np.rint((center[..., 0] - 8) / 16), np.rint((center[..., 1] - 8) / 16)
    return (high * 16 + low).astype(int).tolist()


# --- train.py in subprocesses ----------------------------------------------------------------------------------------

TINY = [
    "model.net.ch=8", "model.net.ch_mult=[1,2]", "model.net.time_downsample_factor=2", "data.num_frames=5",
    "data.height=32", "data.width=32", "loss.perceptual_weight=0", "loss.disc_start=7", "loss.disc_channels=4",
    "optimizer.schedule=constant", "checkpoint.every=2", "checkpoint.keep=100", "eval.every=2", "log.every=1",
]


def subprocess_env(cache: Path, devices: int | None = None) -> dict:
    """The environment of a train.py subprocess: CPU only, the persistent compilation cache in ``cache``,
    ``devices`` host devices when given."""
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_PLATFORMS="cpu")
    flags = ["--xla_backend_optimization_level=0"]
    if devices:
        flags.append(f"--xla_force_host_platform_device_count={devices}")
    env["XLA_FLAGS"] = " ".join(flags)
    return env


def kill_after_first_checkpoint(command: list[str], workdir: Path, env: dict, first_step: int) -> list[int]:
    """Run ``command``, SIGKILL it once checkpoint ``first_step`` exists; the steps it had saved."""
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = workdir / "checkpoints" / str(first_step)
    deadline = time.monotonic() + 600
    while not first.is_dir() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert first.is_dir(), "the run made no checkpoint before it was killed"
    return sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())


def read_metrics(workdir: Path) -> list[dict]:
    """Every line of the run's metrics.jsonl."""
    return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def flatten_tree(tree, prefix=()):
    """(key path, array) for every leaf of a nested dict."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from flatten_tree(value, prefix + (key,))
    else:
        yield prefix, np.asarray(tree)


def assert_same_tree(a, b, atol=0.0):
    """The same keys and the same leaves: equal exactly, or within ``atol``."""
    flat_a, flat_b = dict(flatten_tree(a)), dict(flatten_tree(b))
    assert flat_a.keys() == flat_b.keys()
    for key in flat_a:
        if atol:
            np.testing.assert_allclose(flat_a[key], flat_b[key], atol=atol, rtol=0, err_msg=str(key))
        else:
            np.testing.assert_array_equal(flat_a[key], flat_b[key], err_msg=str(key))
