"""Training-step time and memory on this machine: prints a table, writes benchmarks/results/bench_train.json.

Each case builds a training config (a preset plus overrides), compiles the full train step (one
autoencoder forward, generator + discriminator updates, LPIPS, GAN terms on), runs it once to
warm up (``--warmup``) and then ``--steps`` timed times. Memory: the compiled step's own estimate
(arguments + outputs + temporaries - aliased donations, from XLA's memory analysis) and the
process's peak resident set size so far (cases run in the order given, smallest first). FLOPs:
the analytic count of ``vidtok_jax.runtime.flops`` (convolutions and matmuls from their shapes, plus
element-wise work), which gives the model FLOP utilisation (``mfu``) against the device's peak,
and XLA's own count beside it (``step_tflop``, which on GPUs misses the convolutions handed to
cuDNN). Run from the repository root:

    python benchmarks/bench_train.py                      # full-size 1x17x128x128 and tiny_cpu
    python benchmarks/bench_train.py --cases full --size 64 --frames 9 --dtype float32
    python benchmarks/bench_train.py --cases full --compile_only --remat full   # memory without running
    python benchmarks/bench_train.py --loop --cases tiny flex_tiny      # the training loop, old and new

``--loop`` times the whole training loop instead of the bare step: it trains each case with
``vidtok_jax.train`` in a temporary folder, alternately with ``log.sync_every_step`` true (the host
fetches every step's metrics, so the device idles while the host catches up: the old loop) and false
(metrics fetched on log steps only, the next batch already on the device: the new one), and reads the
seconds per step of every log window after the first (which holds compilation) from ``metrics.jsonl``.
It writes benchmarks/results/bench_train_loop.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from vidtok_jax.data.synthetic import synthetic_clip
from vidtok_jax.runtime import flops as flops_lib
from vidtok_jax.runtime.compilation_cache import use_threefry_gpu_kernel
from vidtok_jax.runtime.cpu_memory import use_memory_optimized_cpu_scheduler
from vidtok_jax.train.command import make_family
from vidtok_jax.train.config import REMAT_POLICIES, load_train_config
from vidtok_jax.train.engine import train
from vidtok_jax.vidtok.tokenizer import tree_size

RESULTS = Path(__file__).resolve().parent / "results" / "bench_train.json"
LOOP_RESULTS = RESULTS.with_name("bench_train_loop.json")
CASES = {
    "full": ("stage1_kl_causal_488_4chn", ["loss.disc_start=0", "data.source=synthetic"]),
    "tiny": ("tiny_cpu", ["loss.disc_start=0"]),
    "flex_tiny": ("flex_tiny_cpu", []),
    "flex": ("flex_default", ["data.source=synthetic"]),
    "smoke": ("tiny_cpu", ["loss.disc_start=0", "data.num_frames=5", "data.height=32", "data.width=32"]),
}


# Dense peak TFLOP/s by (device kind, compute dtype); float32 convolutions and matmuls on Hopper run as TF32.
PEAK_TFLOPS = {("NVIDIA H100 80GB HBM3", "bfloat16"): 989.0, ("NVIDIA H100 80GB HBM3", "float32"): 494.0,
               ("NVIDIA H200", "bfloat16"): 989.0, ("NVIDIA H200", "float32"): 494.0}


def step_flops(compiled) -> float | None:
    """Floating-point operations of one compiled step by XLA's cost analysis (None where it gives none)."""
    cost = compiled.cost_analysis()
    if isinstance(cost, list):
        cost = cost[0] if cost else None
    return float(cost["flops"]) if cost and cost.get("flops") else None


def device_peak_gib() -> float | None:
    """Peak accelerator memory in use so far (None on CPU, which reports no memory statistics)."""
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else round(peak / 2**30, 3)


def case_config(name: str, args: argparse.Namespace, extra: tuple[str, ...] = ()):
    preset, overrides = CASES[name]
    overrides = overrides + [f"data.batch_size={args.batch}", f"eval.batch_size={args.batch}", *extra]
    if not name.startswith("flex"):  # the VideoFlexTok family has no remat option
        overrides.append(f"model.remat={args.remat}")
    if name == "full":
        overrides += [f"data.num_frames={args.frames}", f"data.height={args.size}", f"data.width={args.size}"]
    if args.dtype:
        overrides.append(f"model.dtype={args.dtype}")
    return load_train_config(preset, overrides)


def loop_seconds_per_step(name: str, args: argparse.Namespace, sync_every_step: bool) -> list[float]:
    """Seconds per step of each log window after the first, training case ``name`` for ``--loop_steps`` steps."""
    window = args.loop_log_every
    steps = window * (1 + args.loop_windows)
    overrides = (f"steps={steps}", f"log.every={window}", f"eval.every={steps}", f"checkpoint.every={steps}",
                 "optimizer.warmup_steps=1", "log.tensorboard=false", "log.images_every=1000000",
                 f"log.sync_every_step={str(sync_every_step).lower()}")
    config = case_config(name, args, overrides)
    with tempfile.TemporaryDirectory() as workdir:
        train(config, workdir, make_family)
        records = [json.loads(line) for line in (Path(workdir) / "metrics.jsonl").read_text().splitlines()]
    return [r["train/seconds_per_step"] for r in records if "train/seconds_per_step" in r and r["step"] > window]


def bench_loop(name: str, args: argparse.Namespace) -> dict:
    """The old loop (a host sync every step) and the new one, alternated ``--loop_repeats`` times."""
    times = {"sync_every_step": [], "sync_on_log": []}
    for _ in range(args.loop_repeats):
        for key in times:
            times[key] += loop_seconds_per_step(name, args, key == "sync_every_step")
    old, new = (statistics.median(times[key]) for key in times)
    return {"case": name, "batch": args.batch, "log_every": args.loop_log_every,
            "windows": len(times["sync_on_log"]), "old_step_s": round(old, 4), "new_step_s": round(new, 4),
            "old_steps_per_s": round(1 / old, 2), "new_steps_per_s": round(1 / new, 2),
            "new_over_old_time": round(new / old, 3), "window_step_s": {k: [round(t, 4) for t in v] for k, v in times.items()}}


def main_loop(args: argparse.Namespace) -> None:
    rows = []
    for name in args.cases:
        row = bench_loop(name, args)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'case':10} {'batch':>5} {'windows':>7} {'old s/step':>10} {'new s/step':>10} {'old steps/s':>11} "
          f"{'new steps/s':>11} {'new/old time':>12}")
    for r in rows:
        print(f"{r['case']:10} {r['batch']:>5} {r['windows']:>7} {r['old_step_s']:>10} {r['new_step_s']:>10} "
              f"{r['old_steps_per_s']:>11} {r['new_steps_per_s']:>11} {r['new_over_old_time']:>12}")
    LOOP_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    LOOP_RESULTS.write_text(json.dumps({"device": str(jax.devices()[0]), "cpu": platform.processor() or platform.machine(),
                                        "jax": jax.__version__, "results": rows}, indent=2) + "\n")
    print(f"wrote {LOOP_RESULTS}")


def bench_case(name: str, args: argparse.Namespace) -> dict:
    config = case_config(name, args)
    data = config.data
    video = np.stack([synthetic_clip(np.random.default_rng(i), data.num_frames, data.height, data.width)
                      for i in range(data.batch_size)])
    family = make_family(config)
    state = jax.jit(family.init_state)(None)
    aux = family.aux()
    start = time.perf_counter()
    compiled = jax.jit(family.train_step, donate_argnums=0).lower(state, video, aux).compile()
    compile_seconds = time.perf_counter() - start
    memory = compiled.memory_analysis()
    estimate = None if memory is None else (memory.argument_size_in_bytes + memory.output_size_in_bytes
                                            + memory.temp_size_in_bytes - memory.alias_size_in_bytes)
    flops = step_flops(compiled)
    analytic = flops_lib.count(family.train_step, state, video, aux).total
    print(f"{name}: compiled in {compile_seconds:.0f} s, XLA memory estimate "
          f"{'?' if estimate is None else f'{estimate / 2**30:.2f} GiB'}", flush=True)
    times, error, metrics = [], None, {"finite": np.nan}
    try:
        for index in range(0 if args.compile_only else args.warmup + args.steps):
            start = time.perf_counter()
            state, metrics = compiled(state, video, aux)
            jax.block_until_ready(metrics)
            seconds = time.perf_counter() - start
            peak = device_peak_gib()
            print(f"{name}: {'warm-up' if index < args.warmup else 'timed'} step {index + 1}: {seconds:.3f} s"
                  + ("" if peak is None else f", device peak {peak} GiB so far"), flush=True)
            if index >= args.warmup:
                times.append(seconds)
    except jax.errors.JaxRuntimeError as err:
        error = str(err).splitlines()[0][:200]
    seconds = float(np.median(times)) if times else float("nan")
    peak_tflops = args.peak_tflops or PEAK_TFLOPS.get((jax.devices()[0].device_kind, config.model.dtype))
    achieved_tflops = flops / seconds / 1e12 if flops and times else None
    analytic_tflops = analytic / seconds / 1e12 if times else None
    return {
        "case": name, "model": family.describe(state).split(":")[0],
        "params": tree_size(state.params if config.family == "videoflextok" else state.generator["autoencoder"]),
        "ch": config.model_config.encoder.ch, "batch": data.batch_size, "frames": data.num_frames,
        "size": data.height, "dtype": config.model.dtype, "remat": config.model.remat,
        "compile_s": round(compile_seconds, 1), "step_s": round(seconds, 3), "step_times_s": [round(t, 3) for t in times],
        "clips_per_s": round(data.batch_size / seconds, 4),
        "step_memory_estimate_gib": None if estimate is None else round(estimate / 2**30, 3),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "device_peak_gib": device_peak_gib(), "step_tflop": None if flops is None else round(flops / 1e12, 3),
        "analytic_step_tflop": round(analytic / 1e12, 3),
        "mfu": round(analytic_tflops / peak_tflops, 4) if analytic_tflops and peak_tflops else None,
        "achieved_tflops": None if achieved_tflops is None else round(achieved_tflops, 2),
        "fraction_of_peak": round(achieved_tflops / peak_tflops, 4) if achieved_tflops and peak_tflops else None,
        "loss_finite": bool(metrics["finite"]) if times else None, "error": error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=["tiny", "full"], choices=sorted(CASES))
    parser.add_argument("--size", type=int, default=128, help="frame height and width of the full-size case")
    parser.add_argument("--frames", type=int, default=17, help="frames per clip of the full-size case")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default=None, help="default: the preset's")
    parser.add_argument("--remat", default="none", choices=REMAT_POLICIES)
    parser.add_argument("--steps", type=int, default=2, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps after compiling")
    parser.add_argument("--compile_only", action="store_true", help="only compile and report XLA's memory estimate")
    parser.add_argument("--append", action="store_true", help="add to the rows already in the results file")
    parser.add_argument("--peak_tflops", type=float, default=None,
                        help="the device's dense peak TFLOP/s for --dtype (default: known GPUs)")
    parser.add_argument("--loop", action="store_true", help="time the training loop, old and new (see above)")
    parser.add_argument("--loop_log_every", type=int, default=20, help="--loop: steps per timed window")
    parser.add_argument("--loop_windows", type=int, default=3, help="--loop: timed windows per run")
    parser.add_argument("--loop_repeats", type=int, default=2, help="--loop: runs of each loop, alternated")
    args = parser.parse_args()
    use_memory_optimized_cpu_scheduler()
    use_threefry_gpu_kernel()
    if args.loop:
        return main_loop(args)
    rows = json.loads(RESULTS.read_text())["results"] if args.append and RESULTS.is_file() else []
    for name in args.cases:
        row = bench_case(name, args)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'case':10} {'params':>11} {'input':>16} {'dtype':>8} {'remat':>6} {'compile s':>9} {'step s':>8} "
          f"{'clips/s':>8} {'mem est GiB':>11} {'peak RSS GiB':>12} {'dev peak GiB':>12} {'TFLOP':>7} {'MFU':>7} "
          f"{'XLA TFLOP':>9}")
    for r in rows:
        shape = f"{r['batch']}x{r['frames']}x{r['size']}x{r['size']}"
        print(f"{r['case']:10} {r['params']:>11,} {shape:>16} {r['dtype']:>8} {r['remat']:>6} {r['compile_s']:>9} "
              f"{r['step_s']:>8} {r['clips_per_s']:>8} {r['step_memory_estimate_gib']!s:>11} {r['peak_rss_gib']:>12} "
              f"{r.get('device_peak_gib')!s:>12} {r.get('analytic_step_tflop')!s:>7} {r.get('mfu')!s:>7} "
              f"{r.get('step_tflop')!s:>9}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"device": str(jax.devices()[0]), "device_kind": jax.devices()[0].device_kind,
                                   "cpu": platform.processor() or platform.machine(), "jax": jax.__version__,
                                   "results": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
