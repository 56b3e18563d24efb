"""Benchmark VideoFlexTok: tokenize and detokenize throughput against k and sampler steps, and peak memory.

    python benchmarks/bench_videoflextok.py                                   # small model, CPU
    python benchmarks/bench_videoflextok.py --model d18_d28 --latent 5x32x32 --dtype bfloat16 --steps 30 --keep 256

Random weights in an official-layout config (`small`: 4+4 layers of width 128, 64 registers per
latent frame; `d18_d18_k600` / `d18_d28`: the released shapes as the paper names them). Timing
is on VidTok latents (one 17-frame clip = 5 latent frames), after compilation, median of
`--repeat` runs; detokenize uses APG guidance (two decoder passes per step), as the official
notebook. Every k runs the same compiled program, so k changes no time or memory: the k rows
show it. Peak memory is the device's peak allocation where the backend reports it (GPU), else
the process's peak resident memory. FLOPs are the analytic count of `vidtok_jax.runtime.flops` (model FLOP
utilisation on known GPUs). Prints a table and writes benchmarks/results/bench_videoflextok.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import vidtok_jax as vt
from vidtok_jax.flextok.model import sampler_for, guidance_from
from vidtok_jax.flextok.presets import RELEASED_SHAPES, flextok_hydra_config
from vidtok_jax.runtime import flops

RESULTS = Path(__file__).resolve().parent / "results" / "bench_videoflextok.json"
# Dense peak TFLOP/s by (device kind, compute dtype), for the model FLOP utilisation.
PEAK_TFLOPS = {("NVIDIA H100 80GB HBM3", "bfloat16"): 989.0, ("NVIDIA H100 80GB HBM3", "float32"): 494.0,
               ("NVIDIA H200", "bfloat16"): 989.0, ("NVIDIA H200", "float32"): 494.0}
MODELS = {"small": dict(enc_dim=128, enc_depth=4, dec_dim=128, dec_depth=4, registers=64, patch=(1, 2, 2)),
          **RELEASED_SHAPES}


def peak_memory_gb() -> tuple[float, str]:
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**30, "device peak"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "process peak RSS"


def timed(fn, repeat: int) -> tuple[float, float]:
    """(compile + first run seconds, median seconds of `repeat` later runs)."""
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        runs.append(time.perf_counter() - start)
    return first, statistics.median(runs)


def measure(args: argparse.Namespace) -> dict:
    """Tokenize and detokenize rows for the options of ``main`` (model, latent, batch, dtype, steps, keep,
    guidance, repeat), with the device's peak memory."""
    shape = MODELS[args.model]
    config = flextok_hydra_config(**shape, head_dim=64, posemb_max=32)
    flex = vt.random_videoflextok(config, dtype=getattr(jnp, args.dtype))
    t, h, w = (int(s) for s in args.latent.split("x"))
    z = jax.random.normal(jax.random.key(0), (args.batch, t, h, w, flex.config.latent_channels))
    rows = []
    peak = PEAK_TFLOPS.get((jax.devices()[0].device_kind, args.dtype))

    def row(op, k, steps, fn, pure):
        first, median = timed(fn, args.repeat)
        tflop = flops.count(pure).total / 1e12
        rows.append(dict(op=op, k=k, steps=steps, seconds=median, compile_s=first - median, tflop=tflop,
                         mfu=tflop / median / peak if peak else None, clips_per_s=args.batch / median,
                         tokens_per_s=args.batch * t * k / median))

    row("tokenize", flex.num_registers, 0, lambda: flex.tokenize_latents(z),
        lambda: flex.encoder.apply({"params": flex.params["encoder"]}, z))
    ids = flex.tokenize_latents(z)
    codes = flex.codes(ids)
    apg = dict(eta=0.0, momentum=0.0, norm_threshold=0.6)
    for steps in (int(s) for s in args.steps.split(",")):
        for k in (min(int(s), flex.num_registers) for s in args.keep.split(",")):
            keep = jnp.full((args.batch,), k, jnp.int32)
            row("detokenize", k, steps, lambda: flex.detokenize_latents(
                ids, key=jax.random.key(1), latent_size=(h, w), steps=steps, keep=k, guidance_scale=args.guidance, apg=apg),
                lambda: sampler_for(flex.decoder)(flex.params["decoder"], codes, z, keep, keep * 0, None,
                                                 steps=steps, guidance=guidance_from(args.guidance, apg)))
    memory, memory_kind = peak_memory_gb()
    device = jax.devices()[0]
    result = dict(model=args.model, shape=shape, latent=[t, h, w], batch=args.batch, dtype=args.dtype,
                  guidance=args.guidance, device=f"{device.platform}:{device.device_kind}",
                  peak_memory_gb=memory, peak_memory_kind=memory_kind, rows=rows)
    return result


def print_table(result: dict) -> None:
    rows, memory, memory_kind = result["rows"], result["peak_memory_gb"], result["peak_memory_kind"]
    latent = "x".join(str(n) for n in result["latent"])
    print(f"VideoFlexTok {result['model']} {result['shape']}, latents {result['batch']}x{latent}, {result['dtype']}, "
          f"{result['device']}, {memory_kind} {memory:.2f} GiB")
    print(f"{'op':<11}{'k':>5}{'steps':>7}{'s/call':>10}{'clips/s':>10}{'tokens/s':>12}{'TFLOP':>9}{'MFU':>7}"
          f"{'compile s':>11}")
    for r in rows:
        mfu = "" if r["mfu"] is None else f"{r['mfu']:.1%}"
        print(f"{r['op']:<11}{r['k']:>5}{r['steps']:>7}{r['seconds']:>10.3f}{r['clips_per_s']:>10.2f}"
              f"{r['tokens_per_s']:>12.0f}{r['tflop']:>9.4f}{mfu:>7}{r['compile_s']:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="small")
    parser.add_argument("--latent", default="5x16x16", help="latent grid TxHxW of one clip (5x16x16 = 17x128x128 pixels)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--steps", default="4,16", help="comma-separated sampler step counts")
    parser.add_argument("--keep", default="1,16,64", help="comma-separated k (tokens kept per latent frame)")
    parser.add_argument("--guidance", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    result = measure(parser.parse_args())
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
