"""How much a VideoFlexTok's token budget could carry: a linear code of the same size against the model.

    python benchmarks/flextok_linear_code.py --data LATENTS [LATENTS ...] [--checkpoint FLEX] \
        [--example ../shared/videos/example.mp4]

R tokens of len(levels) FSQ values each are R * len(levels) scalars per latent frame (32 * 6 = 192 for
the bundled model, 512 bits). This script asks what those scalars can hold with no learning at all:
the principal components of the training latent frames (``--data``: encode-dir folders of the
model's VidTok; latent frames cut into crops of the model's latent size, as they are: the space the
``linear_code`` extension fits its code in) and, on the held-out windows of
``benchmarks/flextok_study.py``, per power of two k:

- the first 6k principal components, exact (no quantization);
- a linear FSQ code: component ``j`` rounded to the levels of FSQ value ``j`` (token ``j // 6``),
  over a span fitted on the training components; the first k tokens are the first 6k components;
- the model itself: its decode from its first k tokens (one Euler step, as the study);

each decoded through the model's VidTok and scored in PSNR against the window, beside the VidTok's
own reconstruction (the ceiling). Prints the table and writes benchmarks/results/flextok_linear_code.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import vidtok_jax as vt
from vidtok_jax.data.latent_shards import read_latent_shards
from vidtok_jax.flextok.linear_code import fit_linear_code, latent_frame_crops
from vidtok_jax.metrics import psnr

from flextok_study import EXAMPLE, FRAMES, held_out_windows

RESULTS = Path(__file__).resolve().parent / "results" / "flextok_linear_code.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", required=True, help="encode-dir folders of the model's training latents")
    parser.add_argument("--checkpoint", help="a VideoFlexTok (default: the bundled one)")
    parser.add_argument("--example", type=Path, default=EXAMPLE, help="the official demo clip (a held-out clip)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    flex = vt.load_videoflextok(args.checkpoint)
    size = flex.video_size
    factor = flex.vidtok.config.spatial_factor
    latent_size = (size[0] // factor, size[1] // factor)
    r, per_token = flex.num_registers, len(flex.config.levels)

    train = latent_frame_crops(read_latent_shards(args.data), *latent_size)
    code = fit_linear_code(train, flex.config.levels, r)

    windows = held_out_windows(size[0], args.example)
    videos = jnp.asarray(np.stack(list(windows.values())))
    latents = flex.vidtok.encode(videos)
    components = code.components(np.asarray(latents).reshape(-1, train.shape[1]))

    def score(frames: np.ndarray) -> float:
        z = jnp.asarray(frames.reshape(latents.shape), jnp.float32)
        return float(jnp.mean(psnr(jnp.clip(flex.vidtok.decode(z, num_frames=FRAMES), -1, 1), videos)))

    ids = flex.tokenize_latents(latents)
    noise = jax.random.normal(jax.random.key(args.seed), latents.shape)
    ks = [2 ** i for i in range(int(np.log2(r)) + 1)]
    rows = []
    for k in ks:
        n = k * per_token
        exact, coded = code.frames(components[:, :n]), code.frames(code.rounded(components[:, :n]))
        decoded = flex.vidtok.decode(flex.detokenize_latents(ids, noise=noise, steps=1, keep=k), num_frames=FRAMES)
        model = float(jnp.mean(psnr(jnp.clip(decoded, -1, 1), videos)))
        rows.append({"k": k, "components": n, "exact_components": score(exact), "linear_fsq_code": score(coded),
                     "model": model})
    ceiling = float(jnp.mean(psnr(jnp.clip(flex.vidtok.decode(latents, num_frames=FRAMES), -1, 1), videos)))
    explained = float(np.sum(code.std ** 2) / np.sum(np.var(train, axis=0, ddof=1)))

    print(f"{len(train)} training latent frames of {latent_size[0]}x{latent_size[1]}x{flex.config.latent_channels}; "
          f"{len(windows)} held-out windows; {r * per_token} components explain {explained:.1%} of the training variance")
    print(f"{'k':>3} {'components':>10} {'exact (dB)':>10} {'linear FSQ code (dB)':>21} {'model (dB)':>10}")
    for row in rows:
        print(f"{row['k']:>3} {row['components']:>10} {row['exact_components']:>10.2f} {row['linear_fsq_code']:>21.2f} "
              f"{row['model']:>10.2f}")
    print(f"the VidTok's own reconstruction (the ceiling): {ceiling:.2f} dB")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"checkpoint": args.checkpoint or "bundled", "data": args.data,
                                   "training_frames": len(train), "windows": list(windows),
                                   "spans": sorted(set(code.spans.tolist())),
                                   "explained_variance": explained, "rows": rows, "ceiling": ceiling}, indent=1))


if __name__ == "__main__":
    main()
