"""The GPU agenda: every GPU measurement the open work asks for, as one command with nothing to edit.

    python benchmarks/gpu_agenda.py --out OUT [--official-repo PATH/TO/VidTok]   # one H100/H200, about 8 min
    python benchmarks/gpu_agenda.py --out OUT --smoke                             # every section, tiny, on a CPU

Sections (``--sections`` picks some; each is recorded even when another fails):

- ``vidtok``: encode and decode of 17x256x256 clips at batch 1, 4 and 16, bfloat16 and float32, with
  ``vidtok_kl_causal_488_4chn`` (random weights); with ``--official-repo`` (a checkout of the official
  code and torch installed) the official PyTorch modules on the same device with the same weights, eager
  (under bf16 autocast in the bfloat16 rows) and ``torch.compile``d, with the relative error of each;
- ``train_step``: the full-size training step (17x256x256, bf16, LPIPS and GAN on) at batch 1, 2 and 4,
  remat per block and none: clips/s, analytic MFU, peak memory; then a ``jax.profiler`` trace of one
  step and its ten most expensive ops;
- ``videoflextok``: the released d18-d28 shape, tokenize and a 30-step detokenize (APG guidance, two
  decoder passes a step) of one 17x256x256 clip's latents (5x32x32), bfloat16.

``--smoke`` runs the same code with tiny shapes (the bundled VidTok configuration, 32x32 frames, a
small VideoFlexTok) in under two minutes on a CPU; the default test run runs it. Writes
``OUT/gpu_agenda.json`` (every row, the device, the versions) and ``OUT/gpu_agenda.md`` (the tables);
the exit status is 1 when a section failed. The persistent compilation cache goes to ``OUT/jax_cache``
unless ``--compilation-cache`` names another folder.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_model  # noqa: E402
import bench_train  # noqa: E402
import bench_videoflextok  # noqa: E402

from vidtok_jax.runtime.compilation_cache import enable_compilation_cache, use_threefry_gpu_kernel  # noqa: E402

FULL = dict(config="vidtok_kl_causal_488_4chn", frames=17, size=256, batches=(1, 4, 16), train_batches=(1, 2, 4),
            train_case="full", remat=("blocks", "none"),
            flex_model="d18_d28", flex_latent="5x32x32", flex_steps=30, dtypes=("bfloat16", "float32"))
SMOKE = dict(config="vidtok_jax_default", frames=9, size=32, batches=(1, 2), train_batches=(1,),
             train_case="smoke", remat=("blocks",), flex_model="small", flex_latent="2x4x4", flex_steps=2, dtypes=("float32",))


def vidtok_rows(plan: dict, args: argparse.Namespace) -> list[dict]:
    """Our encode and decode against the official code (eager and compiled) at each batch and dtype."""
    rows = []
    for dtype in plan["dtypes"]:
        for batch in plan["batches"]:
            case = argparse.Namespace(config=plan["config"], dtype=dtype, repeats=args.repeats, batch=batch,
                                      official_repo=args.official_repo, official_device=args.official_device,
                                      official_bf16_autocast=dtype == "bfloat16", official_compiled=True)
            rows.append(bench_model.time_case(case, plan["frames"], plan["size"]))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def top_ops(trace_dir: Path, count: int = 10) -> list[dict]:
    """The ``count`` ops with the most time in a ``jax.profiler`` trace: the device's "XLA Ops" line on a GPU,
    XLA's own threads (``tf_XLA...``) on a CPU."""
    path = sorted(trace_dir.rglob("*.xplane.pb"))[-1]
    totals, calls = collections.Counter(), collections.Counter()
    planes = list(jax.profiler.ProfileData.from_file(str(path)).planes)
    devices = [p for p in planes if p.name.startswith("/device:")]
    for plane in devices or [p for p in planes if p.name == "/host:CPU"]:
        for line in plane.lines:
            if devices and line.name != "XLA Ops" or not devices and not line.name.startswith("tf_XLA"):
                continue
            for event in line.events:
                if "::" not in event.name and not event.name.startswith("end:"):
                    totals[event.name] += event.duration_ns
                    calls[event.name] += 1
    if not totals:
        raise RuntimeError(f"no XLA op events in {path}: the profiler's layout changed; read the trace by hand")
    whole = sum(totals.values())
    return [{"op": name, "ms": round(ns / 1e6, 3), "share": round(ns / whole, 4), "calls": calls[name]}
            for name, ns in totals.most_common(count)]


def profile_one_step(plan: dict, args: argparse.Namespace, out: Path) -> list[dict]:
    """Trace one training step (batch 1, no remat) after a warm-up and return its ten most expensive ops."""
    case = bench_train.case_config(plan["train_case"], _train_args(plan, args, 1, "none"))
    family = bench_train.make_family(case)
    video = np.zeros((1, case.data.num_frames, case.data.height, case.data.width, 3), np.float32)
    step = jax.jit(family.train_step, donate_argnums=0)
    state, aux = jax.jit(family.init_state)(None), family.aux()
    state, metrics = step(state, video, aux)
    jax.block_until_ready(metrics)
    trace_dir = out / "profile"
    with jax.profiler.trace(str(trace_dir), create_perfetto_trace=True):
        state, metrics = step(state, video, aux)
        jax.block_until_ready(metrics)
    return top_ops(trace_dir)


def _low_dtype(plan: dict) -> str:
    """The dtype the training step and VideoFlexTok run in: bfloat16 where the plan has it."""
    return "bfloat16" if "bfloat16" in plan["dtypes"] else "float32"


def _train_args(plan: dict, args: argparse.Namespace, batch: int, remat: str) -> argparse.Namespace:
    return argparse.Namespace(batch=batch, remat=remat, frames=plan["frames"], size=plan["size"], dtype=_low_dtype(plan),
                              steps=args.repeats, warmup=1, compile_only=False, peak_tflops=None)


def train_rows(plan: dict, args: argparse.Namespace) -> list[dict]:
    rows = []
    for remat in plan["remat"]:
        for batch in plan["train_batches"]:
            rows.append(bench_train.bench_case(plan["train_case"], _train_args(plan, args, batch, remat)))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def flex_rows(plan: dict, args: argparse.Namespace) -> list[dict]:
    dtype = _low_dtype(plan)
    case = argparse.Namespace(model=plan["flex_model"], latent=plan["flex_latent"], batch=1, dtype=dtype,
                              steps=str(plan["flex_steps"]), keep="1,256", guidance=20.0, repeat=args.repeats)
    result = bench_videoflextok.measure(case)
    bench_videoflextok.print_table(result)
    return [{**row, "model": result["model"], "latent": plan["flex_latent"], "dtype": dtype,
             "peak_memory_gb": round(result["peak_memory_gb"], 3)} for row in result["rows"]]


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def cell(value):
        return f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)
    columns = [c for c in columns if any(c in r for r in rows)]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


TABLES = {
    "vidtok": ["dtype", "batch", "frames", "size", "compile_s", "encode_s", "decode_s", "official_encode_s",
               "official_decode_s", "encode_ratio", "decode_ratio", "compiled_official_encode_s",
               "compiled_official_decode_s", "compiled_encode_ratio", "compiled_decode_ratio",
               "latent_rel_err_vs_official", "decoded_rel_err_vs_official", "compiled_official_error"],
    "train_step": ["batch", "remat", "dtype", "compile_s", "step_s", "clips_per_s", "mfu", "device_peak_gib",
                   "step_memory_estimate_gib", "analytic_step_tflop", "error"],
    "profile": ["op", "ms", "share", "calls"],
    "videoflextok": ["model", "latent", "dtype", "op", "k", "steps", "seconds", "compile_s", "tflop", "mfu",
                     "peak_memory_gb"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_agenda.json, gpu_agenda.md and the profile")
    parser.add_argument("--official-repo", default=None, help="a checkout of microsoft/VidTok (never committed)")
    parser.add_argument("--official-device", default=None, help="torch device (default: cuda on a GPU, else cpu)")
    parser.add_argument("--sections", nargs="+", default=["vidtok", "train_step", "videoflextok"],
                        choices=["vidtok", "train_step", "videoflextok"])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each measurement")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes: checks the script on a CPU")
    parser.add_argument("--compilation-cache", default=None, help="default: OUT/jax_cache")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    enable_compilation_cache(args.compilation_cache or out / "jax_cache")
    use_threefry_gpu_kernel()
    args.official_device = args.official_device or ("cuda" if jax.devices()[0].platform == "gpu" else "cpu")
    plan = SMOKE if args.smoke else FULL
    if args.smoke:
        args.repeats = 1

    device = jax.devices()[0]
    report = {"device": f"{device.platform}:{device.device_kind}", "jax": jax.__version__, "smoke": args.smoke,
              "official_repo": bool(args.official_repo), "sections": {}}
    work = {"vidtok": [("vidtok", vidtok_rows)], "train_step": [("train_step", train_rows), ("profile", None)],
            "videoflextok": [("videoflextok", flex_rows)]}
    for section in args.sections:
        for name, measure in work[section]:
            start = time.perf_counter()
            try:
                if measure is None:
                    with tempfile.TemporaryDirectory(dir=out) as folder:
                        rows = profile_one_step(plan, args, Path(folder))
                else:
                    rows = measure(plan, args)
                error = None
            except Exception:  # a failed section is recorded, and the rest still run on the rare GPU
                rows, error = [], traceback.format_exc(limit=4)
                print(error, file=sys.stderr, flush=True)
            report["sections"][name] = {"seconds": round(time.perf_counter() - start, 1), "rows": rows, "error": error}
            print(f"== {name}: {report['sections'][name]['seconds']} s{'' if error is None else ', FAILED'}", flush=True)

    (out / "gpu_agenda.json").write_text(json.dumps(report, indent=1) + "\n")
    parts = [f"# GPU agenda on {report['device']} (jax {report['jax']}{', smoke' if args.smoke else ''})"]
    for name, section in report["sections"].items():
        parts.append(f"## {name} ({section['seconds']} s)")
        parts.append(markdown_table(section["rows"], TABLES[name]) if section["rows"] else
                     f"failed:\n\n```\n{section['error']}```")
    (out / "gpu_agenda.md").write_text("\n\n".join(parts) + "\n")
    print("\n\n".join(parts))
    print(f"wrote {out / 'gpu_agenda.json'} and {out / 'gpu_agenda.md'}")
    return 1 if any(s["error"] for s in report["sections"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
