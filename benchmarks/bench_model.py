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


def _video(frames: int, size: int, batch: int = 1) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (batch, frames, size, size, 3)).astype(np.float32)


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
    """The official PyTorch encoder/decoder with our random weights (imported from a checkout).

    ``device``: torch's device ("cpu", "cuda"); ``bf16_autocast``: run under ``torch.autocast`` in
    bfloat16; ``compiled``: wrap both modules in ``torch.compile``."""

    def __init__(self, repo: str, config: str, params, device: str = "cpu", bf16_autocast: bool = False,
                 compiled: bool = False):
        import torch
        import yaml
        sys.path.insert(0, repo)
        for name in ("lightning", "lightning.pytorch", "lightning.pytorch.utilities",
                     "lightning.pytorch.utilities.rank_zero"):
            sys.modules.setdefault(name, types.ModuleType(name))
        sys.modules["lightning.pytorch.utilities.rank_zero"].rank_zero_only = lambda f: f
        import importlib
        self.torch, self.device, self.bf16_autocast = torch, device, bf16_autocast
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
        self.encoder, self.decoder = self.encoder.to(device), self.decoder.to(device)
        if compiled:
            self.encoder, self.decoder = torch.compile(self.encoder), torch.compile(self.decoder)

    def _run(self, module, x) -> np.ndarray:
        """``module`` on a channels-last numpy batch; returns channels-last float32 numpy (which waits for it)."""
        torch = self.torch
        with torch.no_grad(), torch.autocast(self.device.split(":")[0], torch.bfloat16, enabled=self.bf16_autocast):
            out = module(torch.from_numpy(np.moveaxis(np.asarray(x, np.float32), -1, 1).copy()).to(self.device))
        return np.moveaxis(out.float().cpu().numpy(), 1, -1)

    def run_encode(self, video):
        moments = self._run(self.encoder, video)
        return moments[..., : moments.shape[-1] // 2]

    def run_decode(self, z):
        return self._run(self.decoder, z)


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def time_case(args, frames: int, size: int) -> dict:
    """One row: our compiled encode and decode, timed alternately with each official variant that ``args`` asks
    for (``official_repo``; ``official_compiled``: eager, then ``torch.compile``d, whose keys carry the
    prefix ``compiled_``). A variant that fails to build or run is recorded as ``<prefix>official_error``."""
    dtype = jnp.bfloat16 if args.dtype == "bfloat16" else jnp.float32
    ours = Ours(args.config, dtype)
    batch = getattr(args, "batch", 1)
    video = _video(frames, size, batch)
    row = {"config": args.config, "batch": batch, "frames": frames, "size": size, "dtype": args.dtype,
           "compile_s": ours.compile(video)}
    z = ours.run_encode(video)
    officials = {}
    for prefix, compiled in ([("", False)] + [("compiled_", True)] * getattr(args, "official_compiled", False)
                             if args.official_repo else []):
        try:
            official = Official(args.official_repo, args.config, ours.tok.params, getattr(args, "official_device", "cpu"),
                                getattr(args, "official_bf16_autocast", False), compiled)
            official.run_decode(z)  # torch.compile compiles on the first call: keep it out of the timing
            official.run_encode(video)
            officials[prefix] = official
        except Exception as err:  # torch.compile does not compile everywhere; the eager row still stands
            row[f"{prefix}official_error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    times = {"encode": [], "decode": [], **{f"{p}official_{op}": [] for p in officials for op in ("encode", "decode")}}
    for _ in range(args.repeats):
        times["encode"].append(_best(lambda: ours.run_encode(video), 1))
        times["decode"].append(_best(lambda: ours.run_decode(z), 1))
        for prefix, official in officials.items():
            times[f"{prefix}official_encode"].append(_best(lambda: official.run_encode(video), 1))
            times[f"{prefix}official_decode"].append(_best(lambda: official.run_decode(z), 1))
    row.update({f"{k}_s": min(v) for k, v in times.items() if v})
    for prefix, official in officials.items():
        row[f"{prefix}encode_ratio"] = row["encode_s"] / row[f"{prefix}official_encode_s"]
        row[f"{prefix}decode_ratio"] = row["decode_s"] / row[f"{prefix}official_decode_s"]
        row[f"{prefix}latent_rel_err_vs_official"] = _rel(z, official.run_encode(video))
        row[f"{prefix}decoded_rel_err_vs_official"] = _rel(ours.run_decode(z), official.run_decode(z))
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
