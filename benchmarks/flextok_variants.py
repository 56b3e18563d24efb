"""What makes a small VideoFlexTok read its tokens: each part of the `flex_bundled` recipe removed in turn, at one budget.

    python benchmarks/flextok_variants.py --data LATENTS --eval-data VIDEOS --workdir runs/variants [--steps 600]

Trains the `flex_bundled` preset and each variant below for the same number of steps (the same CPU
budget: every variant costs the same per step) with `train.py`, one after another, then reads the
last evaluation of each run: `eval_token_gain` (the flow loss with another clip's tokens minus the
loss with the clip's own; all R tokens, official noise levels, so every variant is measured alike),
`eval_flow_loss`, `eval_psnr` (the eval clips decoded from all their tokens) and the mean |value|
before FSQ. Prints a table and writes benchmarks/results/flextok_variants.json. A finished run is
not trained again (delete its workdir to redo it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "flextok_variants.json"
PRESET = "flex_bundled"
VARIANTS = {
    "recipe (flex_bundled)": [],
    "official settings (none of the recipe)": ["flextok.latent_scale=null", "flextok.sigma_location=0.0",
                                               "flextok.shape.token_head_init=zero", "flextok.shape.code_norm=false",
                                               "flextok.readout_weight=0.0", "flextok.shape.register_posemb=false",
                                               "flextok.keep_sampling=pow2", "optimizer.learning_rate=5.0e-4"],
    "without the token read-out": ["flextok.readout_weight=0.0"],
    "without latent standardisation": ["flextok.latent_scale=null"],
    "official noise levels (sigma_location 0)": ["flextok.sigma_location=0.0"],
    "without code_norm": ["flextok.shape.code_norm=false"],
    "without decoder register posemb": ["flextok.shape.register_posemb=false"],
    "learning rate 5e-4": ["optimizer.learning_rate=5.0e-4"],
    "pow2 nested dropout": ["flextok.keep_sampling=pow2"],
    "without nested dropout (study control)": ["flextok.keep_sampling=none"],
}
REPORTED = ("eval_token_gain", "eval_flow_loss", "eval_psnr", "eval_ema_psnr")


def run_variant(name: str, overrides: list[str], args) -> dict:
    workdir = Path(args.workdir) / name.split(" (")[0].replace(" ", "_")
    sets = [f"data.data_dir={args.data}", f"eval.data_dir={args.eval_data}", f"steps={args.steps}",
            f"eval.every={args.steps}", f"checkpoint.every={args.steps}", *overrides, *args.set]
    command = [sys.executable, "-m", "vidtok_jax.train", "--config", PRESET, "--workdir", str(workdir)]
    command += [arg for item in sets for arg in ("--set", item)]
    start = time.perf_counter()
    if not _last_eval(workdir):
        subprocess.run(command, check=True)
    row = {"variant": name, "overrides": overrides, "seconds": round(time.perf_counter() - start, 1), **_last_eval(workdir)}
    train = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    row["code_rms"] = next((r["train/code_rms"] for r in reversed(train) if "train/code_rms" in r), None)
    return row


def _last_eval(workdir: Path) -> dict:
    path = workdir / "metrics.jsonl"
    if not path.is_file():
        return {}
    evals = [r for r in map(json.loads, path.read_text().splitlines()) if "eval/eval_token_gain" in r]
    return {key.split("/")[-1]: value for key, value in evals[-1].items()} if evals else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="encode-dir folder of the bundled VidTok's latents")
    parser.add_argument("--eval-data", required=True, help="folder of held-out videos")
    parser.add_argument("--workdir", required=True, help="one run folder per variant is made in it")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--only", nargs="*", help="run only the variants whose names start with these")
    parser.add_argument("--set", action="append", default=[], help="a further override for every run")
    args = parser.parse_args()
    chosen = {n: o for n, o in VARIANTS.items() if not args.only or any(n.startswith(p) for p in args.only)}
    rows = [run_variant(name, overrides, args) for name, overrides in chosen.items()]
    print(f"{args.steps} steps of {PRESET} each")
    print(f"{'variant':<42} {'token gain':>10} {'flow loss':>10} {'PSNR k=R':>9} {'rms pre-FSQ':>11}")
    for r in rows:
        print(f"{r['variant']:<42} {r.get('eval_token_gain', float('nan')):>10.4f} {r.get('eval_flow_loss', float('nan')):>10.4f}"
              f" {r.get('eval_psnr', float('nan')):>9.2f} {r['code_rms'] or float('nan'):>11.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"steps": args.steps, "preset": PRESET, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
