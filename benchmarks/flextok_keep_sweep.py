"""How VideoFlexTok's reconstructions improve with the number of tokens kept per latent frame.

    python benchmarks/flextok_keep_sweep.py ../shared/videos/example.mp4 CLIP.mp4 --checkpoint FILE [--vidtok-config NAME]

For each clip (the first `--frames` frames at `--fps`, resized to `--size` and center-cropped) and
each k of `--keep`, decodes the clip's tokens kept to k per latent frame (`--steps` Euler steps,
guidance `--guidance`, fixed seed) and measures, against the clip: latent MSE (against the VidTok
latents), PSNR (all frames, and frames 2..N), SSIM and LPIPS (VGG). The VidTok reconstruction is
the ceiling. For every step k -> 2k it gives the mean paired difference over clips with a 95%
paired-bootstrap confidence interval. The control: the same metrics from a random k-subset of the
same tokens (seeded per clip; the others masked as nested dropout masks them), and the paired
difference first-k minus random-k (a coarse-to-fine ordering makes it positive for PSNR). Writes benchmarks/results/flextok_keep_sweep.json and a
picture of the first clip (rows: input, k = ..., VidTok; columns: frames) as flextok_keep_sweep.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import vidtok_jax as vt
from vidtok_jax.metrics import lpips, psnr, ssim
from vidtok_jax.images import frame_grid, write_png

RESULTS = Path(__file__).resolve().parent / "results" / "flextok_keep_sweep.json"
METRICS = ("latent_mse", "psnr", "psnr_after_first", "ssim", "lpips")
BOOTSTRAP_SAMPLES = 10_000
PICTURE_COLUMNS = 6


def video_metrics(decoded: jax.Array, video: jax.Array) -> dict[str, float]:
    frames_psnr = np.asarray(psnr(decoded, video))[0]
    return {"psnr": float(frames_psnr.mean()), "psnr_after_first": float(frames_psnr[1:].mean()),
            "ssim": float(jnp.mean(ssim(decoded, video))), "lpips": float(jnp.mean(lpips(decoded, video)))}


def measure_clip(flex: vt.VideoFlexTok, path: str, keeps: list[int], args) -> tuple[dict, np.ndarray]:
    """The clip's metrics by k and the ceiling, and its picture rows (input, each k, VidTok)."""
    video, _ = vt.read_video(path, size=args.size, fps=args.fps, max_frames=args.frames)
    video = jnp.asarray(video)
    latents = flex.vidtok.encode(video)
    ids = flex.tokenize_latents(latents)
    frames = video.shape[1]
    ceiling = jnp.clip(flex.vidtok.decode(latents, num_frames=frames), -1, 1)
    row = {"clip": Path(path).name, "ceiling": video_metrics(ceiling, video), "k": {}}
    rows = [video[0]]
    def measured(keep) -> tuple[dict, jax.Array]:
        z = flex.detokenize_latents(ids, key=jax.random.key(args.seed), latent_size=latents.shape[2:4],
                                    steps=args.steps, keep=keep, guidance_scale=args.guidance)
        decoded = jnp.clip(flex.vidtok.decode(z, num_frames=frames), -1, 1)
        return {"latent_mse": float(jnp.mean(jnp.square(z - latents))), **video_metrics(decoded, video)}, decoded

    rng = np.random.default_rng(args.seed)
    row["random_k"] = {}
    for k in keeps:
        row["k"][k], decoded = measured(k)
        rows.append(decoded[0])
        if k < ids.shape[2]:
            subset = np.zeros(ids.shape[::2], bool)
            subset[:, rng.choice(ids.shape[2], k, replace=False)] = True
            row["random_k"][k] = measured(subset)[0]
    rows.append(ceiling[0])
    columns = np.linspace(0, frames - 1, min(PICTURE_COLUMNS, frames)).round().astype(int)
    return row, frame_grid(*(np.asarray(r)[columns] for r in rows))


def paired_bootstrap(differences: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-clip differences and its 95% percentile-bootstrap interval over clips."""
    rng = np.random.default_rng(seed)
    means = differences[rng.integers(0, len(differences), (BOOTSTRAP_SAMPLES, len(differences)))].mean(axis=1)
    return float(differences.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--checkpoint", required=True, help="VideoFlexTok file (official format)")
    parser.add_argument("--vidtok-config", default=None,
                        help="VidTok stage for a file without one (e.g. vidtok_jax_default, the bundled model)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--fps", type=float, default=8.0)
    parser.add_argument("--keep", default="1,2,4,8,16,32,64,128,256")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--guidance", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    flex = vt.load_videoflextok(args.checkpoint, vidtok=vt.load_tokenizer(args.vidtok_config) if args.vidtok_config else None)
    keeps = [k for k in (int(s) for s in args.keep.split(",")) if k <= flex.num_registers]
    measured = [measure_clip(flex, path, keeps, args) for path in args.clips]
    rows = [row for row, _ in measured]
    steps = {}
    for low, high in zip(keeps, keeps[1:]):
        steps[f"{low}->{high}"] = {metric: paired_bootstrap(np.array([r["k"][high][metric] - r["k"][low][metric]
                                                                      for r in rows])) for metric in METRICS}
    print(f"{len(rows)} clips, {args.frames} frames at {args.size}x{args.size}, {args.steps} steps, guidance {args.guidance}")
    print(f"{'k':>6}" + "".join(f"{m:>18}" for m in METRICS))
    for k in keeps:
        print(f"{k:>6}" + "".join(f"{np.mean([r['k'][k][m] for r in rows]):>18.4f}" for m in METRICS))
    print(f"{'VidTok':>6}" + f"{'':>18}" + "".join(f"{np.mean([r['ceiling'][m] for r in rows]):>18.4f}" for m in METRICS[1:]))
    print("mean paired change per doubling of k [95% bootstrap interval over clips]:")
    for name, changes in steps.items():
        print(f"{name:>9}  " + "  ".join(f"{m} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, (d, lo, hi) in changes.items()))
    control = {k: {metric: paired_bootstrap(np.array([r["k"][k][metric] - r["random_k"][k][metric] for r in rows]))
                   for metric in METRICS} for k in keeps if k in rows[0]["random_k"]}
    print("control, first k minus a random k-subset of the same tokens [95% bootstrap interval over clips]:")
    for k, changes in control.items():
        print(f"{k:>9}  " + "  ".join(f"{m} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, (d, lo, hi) in changes.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"settings": vars(args), "clips": rows, "doubling": steps,
                                   "first_minus_random": control}, indent=1))
    write_png(RESULTS.with_suffix(".png"), measured[0][1])


if __name__ == "__main__":
    main()
