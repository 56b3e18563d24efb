"""Benchmark a full-size VidTok model on this machine: compile, encode and decode time, peak memory.

    python benchmarks/bench_model.py                                  # ch=128 model, 17x64x64 and 17x128x128
    python benchmarks/bench_model.py --official-repo PATH/TO/VidTok   # also time the official PyTorch code

With `--official-repo` (a checkout of the official code, and torch installed) the same random
weights are loaded into the official modules, their outputs are compared with ours, and both
are timed alternately in one process, so the reported ratio is robust to a noisy machine.
Memory is XLA's own account of each compiled program (temporaries and outputs, without the
weights and the input); a process's peak resident memory cannot show it, because compiling
peaks higher than running. Prints a table and writes benchmarks/results/bench_model.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import vidtok_jax as vt
from vidtok_jax.checkpoints.state_dict import state_dict_from_params
from vidtok_jax.vidtok.tokenizer import init_params

RESULTS = Path(__file__).resolve().parent / "results" / "bench_model.json"


def _video(frames: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (1, frames, size, size, 3)).astype(np.float32)


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


class Ours:
    def __init__(self, config: str, dtype):
        warnings.simplefilter("ignore")
        self.tok = vt.Tokenizer(vt.load_model_config(config), init_params(vt.load_model_config(config)), dtype=dtype)
        model = self.tok.model
        self.encode = jax.jit(lambda p, x: model.apply({"params": p}, x, method="encode"))
        self.decode = jax.jit(lambda p, z: model.apply({"params": p}, z, method="decode"))

    def compile(self, video):
        start = time.perf_counter()
        z_shape = jax.eval_shape(self.encode, self.tok.params, video)
        self.encode_c = self.encode.lower(self.tok.params, video).compile()
        self.decode_c = self.decode.lower(self.tok.params, jnp.zeros(z_shape.shape, z_shape.dtype)).compile()
        return time.perf_counter() - start

    def run_encode(self, video):
        return self.encode_c(self.tok.params, video)

    def run_decode(self, z):
        return self.decode_c(self.tok.params, z)


class Official:
    """The official PyTorch encoder/decoder with our random weights (imported from a checkout)."""

    def __init__(self, repo: str, config: str, params):
        import torch
        import yaml
        sys.path.insert(0, repo)
        for name in ("lightning", "lightning.pytorch", "lightning.pytorch.utilities",
                     "lightning.pytorch.utilities.rank_zero"):
            sys.modules.setdefault(name, types.ModuleType(name))
        sys.modules["lightning.pytorch.utilities.rank_zero"].rank_zero_only = lambda f: f
        import importlib
        self.torch = torch
        torch.set_num_threads(os.cpu_count())
        doc = yaml.safe_load((vt.config.BUNDLED_DIR / f"{config}.yaml").read_text())["model"]["params"]
        enc_cfg = doc["encoder_config"]
        dec_target = doc["decoder_config"]["target"]

        def build(target):
            module, cls = target.rsplit(".", 1)
            return getattr(importlib.import_module(module), cls)(**enc_cfg["params"]).eval()

        self.encoder, self.decoder = build(enc_cfg["target"]), build(dec_target)
        state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict_from_params(params).items()}
        self.encoder.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("encoder.")})
        self.decoder.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("decoder.")})

    def run_encode(self, video):
        with self.torch.no_grad():
            moments = self.encoder(self.torch.from_numpy(np.moveaxis(video, -1, 1).copy()))
        return np.moveaxis(moments.numpy(), 1, -1)[..., : moments.shape[1] // 2]

    def run_decode(self, z):
        with self.torch.no_grad():
            out = self.decoder(self.torch.from_numpy(np.moveaxis(np.asarray(z), -1, 1).copy()))
        return np.moveaxis(out.numpy(), 1, -1)


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def time_case(args, frames: int, size: int) -> dict:
    dtype = jnp.bfloat16 if args.dtype == "bfloat16" else jnp.float32
    ours = Ours(args.config, dtype)
    video = _video(frames, size)
    row = {"config": args.config, "frames": frames, "size": size, "dtype": args.dtype,
           "compile_s": ours.compile(video)}
    z = ours.run_encode(video)
    official = Official(args.official_repo, args.config, ours.tok.params) if args.official_repo else None
    times = {"encode": [], "decode": [], "official_encode": [], "official_decode": []}
    for _ in range(args.repeats):
        times["encode"].append(_best(lambda: ours.run_encode(video), 1))
        times["decode"].append(_best(lambda: ours.run_decode(z), 1))
        if official:
            times["official_encode"].append(_best(lambda: official.run_encode(video), 1))
            times["official_decode"].append(_best(lambda: official.run_decode(z), 1))
    row.update({f"{k}_s": min(v) for k, v in times.items() if v})
    if official:
        row["encode_ratio"] = row["encode_s"] / row["official_encode_s"]
        row["decode_ratio"] = row["decode_s"] / row["official_decode_s"]
        row["latent_rel_err_vs_official"] = _rel(z, official.run_encode(video))
        row["decoded_rel_err_vs_official"] = _rel(ours.run_decode(z), official.run_decode(z))
    flops = {name: c.cost_analysis()["flops"] for name, c in (("encode", ours.encode_c), ("decode", ours.decode_c))}
    row["encode_gflops_per_s"] = flops["encode"] / row["encode_s"] / 1e9
    row["decode_gflops_per_s"] = flops["decode"] / row["decode_s"] / 1e9
    for name, compiled in (("encode", ours.encode_c), ("decode", ours.decode_c)):
        memory = compiled.memory_analysis()
        row[f"{name}_xla_mb"] = (memory.temp_size_in_bytes + memory.output_size_in_bytes) / 2**20
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="vidtok_kl_causal_488_4chn")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--official-repo", default=os.environ.get("VIDTOK_OFFICIAL_REPO"))
    args = parser.parse_args(argv)

    rows = []
    for size in args.sizes:
        rows.append(time_case(args, args.frames, size))
    columns = ["frames", "size", "compile_s", "encode_s", "decode_s", "encode_gflops_per_s", "decode_gflops_per_s",
               "official_encode_s", "official_decode_s", "encode_ratio", "decode_ratio",
               "encode_xla_mb", "decode_xla_mb"]
    columns = [c for c in columns if any(c in r for r in rows)]
    print(f"{args.config} ({args.dtype}, {jax.devices()[0].platform}, {os.cpu_count()} cores)")
    print(" | ".join(columns))
    for r in rows:
        print(" | ".join(f"{r[c]:.3g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in columns))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"device": str(jax.devices()[0]), "cores": os.cpu_count(), "rows": rows}, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
