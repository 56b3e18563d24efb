"""Throughput of the evaluation metrics on this machine: prints a table, writes benchmarks/results/bench_metrics.json.

Each case runs once to compile, then `--repeats` timed times; the table gives the median time per
call and the throughput in frames (or clips) per second. Run from the repository root:

    python benchmarks/bench_metrics.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.metrics import LPIPS, frechet_distance, i3d_logits, load_lpips_params, lpips, psnr, ssim

RESULTS = Path(__file__).resolve().parent / "results" / "bench_metrics.json"


def frames(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def lpips_value_and_gradient(net: str, dtype):
    model, params = LPIPS(net, dtype=dtype), load_lpips_params(net)
    step = jax.jit(jax.value_and_grad(lambda x, y: model.apply({"params": params}, x, y).mean()))
    return lambda x, y: step(jnp.asarray(x), jnp.asarray(y))


def cases() -> list[tuple[str, int, str, object, tuple]]:
    """(name, items per call, unit, function, arguments) of every benchmark."""
    video_a, video_b = frames(0, (2, 16, 256, 256, 3)), frames(1, (2, 16, 256, 256, 3))
    frames_a, frames_b = video_a[0, :4], video_b[0, :4]
    clips = frames(2, (2, 16, 256, 256, 3))
    features_a, features_b = frames(3, (256, 400)), frames(4, (256, 400))
    return [
        ("psnr [2,16,256,256,3]", 32, "frames", psnr, (video_a, video_b)),
        ("ssim [2,16,256,256,3]", 32, "frames", ssim, (video_a, video_b)),
        ("lpips alex [4,256,256,3]", 4, "frames", lambda a, b: lpips(a, b, net="alex"), (frames_a, frames_b)),
        ("lpips vgg [4,256,256,3]", 4, "frames", lambda a, b: lpips(a, b, net="vgg"), (frames_a, frames_b)),
        ("lpips vgg value+grad f32 [4,256,256,3]", 4, "frames", lpips_value_and_gradient("vgg", jnp.float32),
         (frames_a, frames_b)),
        ("lpips vgg value+grad bf16 [4,256,256,3]", 4, "frames", lpips_value_and_gradient("vgg", jnp.bfloat16),
         (frames_a, frames_b)),
        ("i3d logits (fvd) [2,16,256,256,3]", 2, "clips", i3d_logits, (clips,)),
        ("frechet distance 2x[256,400]", 1, "calls", frechet_distance, (features_a, features_b)),
    ]


def seconds_per_call(function, arguments: tuple, repeats: int) -> float:
    jax.block_until_ready(function(*arguments))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(*arguments))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    repeats = parser.parse_args().repeats
    rows = []
    print(f"{'metric':42s} {'s/call':>9s} {'throughput':>16s}")
    for name, items, unit, function, arguments in cases():
        seconds = seconds_per_call(function, arguments, repeats)
        rows.append({"metric": name, "seconds_per_call": seconds, "items_per_call": items, "unit": unit,
                     "items_per_second": items / seconds})
        print(f"{name:42s} {seconds:9.3f} {items / seconds:10.2f} {unit}/s", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "device": str(jax.devices()[0]), "backend": jax.default_backend(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "jax": jax.__version__, "repeats": repeats, "results": rows}, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
