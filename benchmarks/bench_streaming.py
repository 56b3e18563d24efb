"""Benchmark streaming: memory and time per frame against video length, compile time cold vs cached.

    python benchmarks/bench_streaming.py                        # lengths 65, 257, 1025 at 64x64, ch=32
    python benchmarks/bench_streaming.py --ch 128 --size 256 --lengths 17 --tile 0   # full size
    python benchmarks/bench_streaming.py --size 720x1280 --tile 256 --lengths 17      # tiled 720p

Each case runs in a fresh process that reconstructs a synthetic video streamed chunk by chunk
(`Tokenizer.reconstruct_stream`, frames generated on the fly and dropped after use), and reports
its peak resident memory above the baseline and the time per frame after compilation. Flat
memory over lengths shows that nothing grows with the video. The compile rows run the same
first call twice with a fresh persistent compilation cache. Prints a table and writes
benchmarks/results/bench_streaming.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import jax
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "bench_streaming.json"


def _tokenizer(config: str, ch: int, dtype: str):
    import jax.numpy as jnp
    import vidtok_jax as vt
    from vidtok_jax.vidtok.tokenizer import init_params
    warnings.simplefilter("ignore")
    cfg = vt.load_model_config(config)
    cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, ch=ch),
                              decoder=dataclasses.replace(cfg.decoder, ch=ch))
    return vt.Tokenizer(cfg, init_params(cfg), dtype=getattr(jnp, dtype))


def _chunks(frames: int, height: int, width: int, chunk: int):
    rng = np.random.default_rng(0)
    for start in range(0, frames, chunk):
        yield rng.uniform(-1, 1, (1, min(chunk, frames - start), height, width, 3)).astype(np.float32)


def run_case(config, ch, dtype, frames, height, width, chunk, tile) -> dict:
    """Measured in the current process: call it in a fresh one."""
    tok = _tokenizer(config, ch, dtype)
    kwargs = {"tile": (tile, tile)} if tile else {}
    warm = 2 * chunk + 1  # compiles the first, middle and last chunk shapes
    for out in tok.reconstruct_stream(_chunks(warm, height, width, chunk), warm, chunk, **kwargs):
        jax.block_until_ready(out)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    produced = 0
    for out in tok.reconstruct_stream(_chunks(frames, height, width, chunk), frames, chunk, **kwargs):
        produced += jax.block_until_ready(out).shape[1]
    elapsed = time.perf_counter() - start
    assert produced == frames
    return {"frames": frames, "seconds": elapsed, "ms_per_frame": 1000 * elapsed / frames,
            "peak_mb_above_baseline": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base}


def first_call_seconds(config, ch, dtype, height, width, chunk, cache_dir) -> float:
    """Seconds from start to the first reconstructed chunk, with a persistent cache at cache_dir."""
    import vidtok_jax as vt
    vt.enable_compilation_cache(cache_dir)
    tok = _tokenizer(config, ch, dtype)
    start = time.perf_counter()
    for out in tok.reconstruct_stream(_chunks(chunk + 1, height, width, chunk), chunk + 1, chunk):
        jax.block_until_ready(out)
    return time.perf_counter() - start


def _in_subprocess(function: str, *args) -> object:
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
            f"import bench_streaming as b; print(json.dumps(b.{function}(*{args!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="vidtok_kl_causal_488_4chn_v1_1")
    parser.add_argument("--ch", type=int, default=32, help="channel width (official: 128)")
    parser.add_argument("--size", default="64", help="S or HxW")
    parser.add_argument("--lengths", type=int, nargs="+", default=[65, 257, 1025])
    parser.add_argument("--chunk-frames", type=int, default=16)
    parser.add_argument("--tile", type=int, default=0, help="square tile size in pixels, 0: no tiling")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--no-compile-rows", action="store_true")
    args = parser.parse_args(argv)
    height, width = (int(v) for v in (args.size.split("x") if "x" in args.size else (args.size, args.size)))

    rows = []
    for frames in args.lengths:
        row = _in_subprocess("run_case", args.config, args.ch, args.dtype, frames, height, width,
                             args.chunk_frames, args.tile)
        rows.append(row)
        print(f"{frames:6d} frames  {row['ms_per_frame']:8.1f} ms/frame  peak +{row['peak_mb_above_baseline']:.0f} MB",
              flush=True)
    compile_rows = {}
    if not args.no_compile_rows:
        with tempfile.TemporaryDirectory() as cache:
            for label in ("cold", "cached"):
                compile_rows[label] = _in_subprocess("first_call_seconds", args.config, args.ch, args.dtype,
                                                     height, width, args.chunk_frames, cache)
                print(f"first chunk, {label} compilation cache: {compile_rows[label]:.1f} s", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"args": vars(args), "device": str(jax.devices()[0]), "rows": rows,
                                   "first_call_seconds": compile_rows}, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
