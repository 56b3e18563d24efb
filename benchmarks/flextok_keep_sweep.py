"""How VideoFlexTok's reconstructions improve with the number of tokens kept per latent frame.

    python benchmarks/flextok_keep_sweep.py ../shared/videos/example.mp4 CLIP.mp4 --checkpoint FILE [--vidtok-config NAME]

For each clip (the first `--frames` frames at `--fps`, resized to `--size` and center-cropped), and
each k of `--keep`, decodes the clip's tokens kept to k per latent frame (`--steps` Euler steps,
guidance `--guidance`, fixed seed) and reports the latent MSE against the VidTok latents of the
clip, and the PSNR of the decoded video against the clip; the VidTok reconstruction is the
ceiling. Prints a table and writes
benchmarks/results/flextok_keep_sweep.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import vidtok_jax as vt
from vidtok_jax.cli.frames import Preprocessing, open_video
from vidtok_jax.metrics.psnr import psnr

RESULTS = Path(__file__).resolve().parent / "results" / "flextok_keep_sweep.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--checkpoint", required=True, help="VideoFlexTok file (official format)")
    parser.add_argument("--vidtok-config", default=None,
                        help="VidTok stage for a file without one (e.g. vidtok_jax_default, the bundled model)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--fps", type=float, default=8.0)
    parser.add_argument("--keep", default="1,2,4,8,16,32")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--guidance", type=float, default=1.0)
    args = parser.parse_args()

    flex = vt.load_videoflextok(args.checkpoint, vidtok=vt.load_tokenizer(args.vidtok_config) if args.vidtok_config else None)
    keeps = [k for k in (int(s) for s in args.keep.split(",")) if k <= flex.num_registers]
    rows = []
    for path in args.clips:
        source = open_video(path, Preprocessing(size=args.size, fps=args.fps, max_frames=args.frames),
                            flex.vidtok.config.spatial_factor)
        video = jnp.asarray(source.read_all()[None])
        latents = flex.vidtok.encode(video)
        ids = flex.tokenize_latents(latents)
        ceiling = flex.vidtok.decode(latents)[:, -video.shape[1]:]
        row = {"clip": Path(path).name, "vidtok_psnr": float(jnp.mean(psnr(ceiling, video))), "k": {}}
        for k in keeps:
            z = flex.detokenize_latents(ids, key=jax.random.key(0), latent_size=latents.shape[2:4], steps=args.steps,
                                        keep=k, guidance_scale=args.guidance)
            decoded = jnp.clip(flex.vidtok.decode(z)[:, -video.shape[1]:], -1, 1)
            row["k"][k] = {"latent_mse": float(jnp.mean(jnp.square(z - latents))), "psnr": float(jnp.mean(psnr(decoded, video)))}
        rows.append(row)
    print(f"PSNR (dB) / latent MSE by tokens kept per latent frame; {args.frames} frames at {args.size}x{args.size}, "
          f"{args.steps} steps, guidance {args.guidance}")
    print(f"{'clip':<24}" + "".join(f"{'k=' + str(k):>16}" for k in keeps) + f"{'VidTok':>10}")
    for row in rows:
        cells = "".join(f"{row['k'][k]['psnr']:>8.2f} /{row['k'][k]['latent_mse']:>6.3f}" for k in keeps)
        print(f"{row['clip']:<24}{cells}{row['vidtok_psnr']:>10.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
