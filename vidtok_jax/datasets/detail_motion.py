"""Clips of what real video has and the other builders lack: fine detail, stochastic motion, fades and cuts.

Kinds of ``motion_data`` (``--kinds text texture turbulence ripples particles cuts``), each a pure
function of the random generator, uint8 ``[T, size, size, 3]``:

- ``text``: lines of rendered text of many sizes and fonts (matplotlib's fonts where matplotlib is
  installed, else Pillow's own), on plain, graded or photographic grounds, scrolling or filmed by a
  panning, zooming camera;
- ``texture``: high-frequency patterns (stripes, checkers, line art, value noise), moving over and
  with the camera, with film grain that changes every frame;
- ``turbulence``: smoke- and fire-like fields: octaves of smooth noise advected along a drifting flow and
  coloured by a smoke, fire or dye palette;
- ``ripples``: water-like interference of circular waves from moving sources, shading a photograph;
- ``particles``: hundreds of small bright points (snow, sparks, dust) on their own random paths;
- ``cuts``: two clips of other kinds joined by a hard cut or a cross-fade, or faded from or to black.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidtok_jax.datasets.camera_motion import as_rgb, camera_path_frames

DETAIL_KINDS = ("text", "texture", "turbulence", "ripples", "particles", "cuts")
_WORDS = string.ascii_letters + string.digits + "      .,:;-!?()"


def font_files() -> list[Path]:
    """The TrueType fonts matplotlib ships (sorted, so the choice is a function of the seed), or none."""
    try:
        import matplotlib
    except ImportError:
        return []
    return sorted((Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf").glob("*.ttf"))


def _font(fonts: list[Path], size: int, rng: np.random.Generator) -> ImageFont.FreeTypeFont:
    if fonts:
        return ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), size)
    return ImageFont.load_default(size=size)


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def _contrasting(ground: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random colour, dark on a light ``ground`` and light on a dark one, so the text is legible."""
    light = float(np.mean(ground)) < 128
    return tuple(int(v) for v in (rng.integers(150, 256, 3) if light else rng.integers(0, 106, 3)))


def text_page(photos: list[np.ndarray], side: int, rng: np.random.Generator, fonts: list[Path]) -> np.ndarray:
    """A ``side``-pixel page of text lines, each its own size (6..48 px), font and colour, legible on a plain,
    graded or photographic ground (uint8 ``[side, side, 3]``)."""
    ground = int(rng.integers(3))
    if ground == 0:
        page = np.broadcast_to(np.array(_random_colour(rng), np.uint8), (side, side, 3))
    elif ground == 1:
        ramp = np.linspace(0, 1, side)[:, None, None]
        page = np.array(_random_colour(rng)) * (1 - ramp) + np.array(_random_colour(rng)) * ramp
        page = np.broadcast_to(page, (side, side, 3))
    else:
        photo = as_rgb(photos[rng.integers(len(photos))]).astype(np.uint8)
        page = np.asarray(Image.fromarray(photo).resize((side, side), Image.BILINEAR))
    image = Image.fromarray(np.ascontiguousarray(page, dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    y = int(rng.integers(-8, 8))
    while y < side:
        size = int(np.exp(rng.uniform(np.log(6), np.log(48))))
        line = "".join(rng.choice(list(_WORDS), int(rng.integers(side // size, 4 * side // size + 2))))
        band = page[max(0, y):max(1, min(side, y + size))]
        draw.text((int(rng.integers(-side // 4, side // 4)), y), line, fill=_contrasting(band, rng),
                  font=_font(fonts, size, rng))
        y += int(size * rng.uniform(0.9, 1.4))
    return np.asarray(image)


def _scroll(page: np.ndarray, num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` window sliding over ``page`` at a constant speed (credits, tickers)."""
    travel = page.shape[0] - size
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-9
    speed = rng.uniform(0.3, 3.0)
    start = rng.uniform(0, travel, 2)
    frames = []
    for t in range(num_frames):
        top, left = np.clip(start + direction * speed * t, 0, travel).astype(int)
        frames.append(page[top:top + size, left:left + size])
    return np.stack(frames)


def text_frames(photos: list[np.ndarray], num_frames: int, size: int, rng: np.random.Generator,
                fonts: list[Path]) -> np.ndarray:
    """Text scrolling past, or filmed by a panning and zooming camera."""
    page = text_page(photos, 3 * size, rng, fonts)
    if rng.random() < 0.5:
        return _scroll(page, num_frames, size, rng)
    return camera_path_frames(page, num_frames, size, rng)


def value_noise(shape: tuple[int, int], cells: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random values in [0, 1] on a ``cells``-per-side lattice, interpolated to ``shape`` (periodic)."""
    lattice = rng.random((cells, cells))
    ys = np.linspace(0, cells, shape[0], endpoint=False)
    xs = np.linspace(0, cells, shape[1], endpoint=False)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    fy, fx = (fy * fy * (3 - 2 * fy))[:, None], (fx * fx * (3 - 2 * fx))[None, :]
    y1, x1 = (y0 + 1) % cells, (x0 + 1) % cells
    top = lattice[y0][:, x0] * (1 - fx) + lattice[y0][:, x1] * fx
    bottom = lattice[y1][:, x0] * (1 - fx) + lattice[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def texture_page(side: int, rng: np.random.Generator) -> np.ndarray:
    """High-frequency patterns: stripes, checkers, line art or fine value noise, in two random colours."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    style = int(rng.integers(4))
    if style == 0:
        angle, period = rng.uniform(0, np.pi), rng.uniform(2.0, 8.0)
        mask = np.sin((np.cos(angle) * x + np.sin(angle) * y) * 2 * np.pi / period) > 0
    elif style == 1:
        period = int(rng.integers(2, 9))
        mask = ((x // period + y // period) % 2).astype(bool)
    elif style == 2:
        art = Image.new("L", (side, side), 0)
        draw = ImageDraw.Draw(art)
        for _ in range(int(rng.integers(40, 160))):
            box = rng.integers(0, side, 4)
            width = int(rng.integers(1, 3))
            if rng.random() < 0.5:
                draw.line([int(v) for v in box], fill=255, width=width)
            else:
                x0, x1 = sorted(box[::2])
                y0, y1 = sorted(box[1::2])
                draw.ellipse([int(x0), int(y0), int(x1), int(y1)], outline=255, width=width)
        mask = np.asarray(art) > 127
    else:
        mask = value_noise((side, side), int(rng.integers(side // 6, side // 2)), rng) > 0.5
    colours = np.array([_random_colour(rng), _random_colour(rng)], np.uint8)
    return colours[mask.astype(int)]


def film_grain(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``frames`` with Gaussian grain of a random strength, new in every frame."""
    strength = rng.uniform(2.0, 14.0)
    noisy = frames.astype(np.float32) + rng.normal(0, strength, frames.shape[:3] + (1,))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def texture_frames(num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A texture under a moving camera, or a texture sliding over another one, with grain."""
    page = texture_page(3 * size, rng)
    frames = camera_path_frames(page, num_frames, size, rng)
    if rng.random() < 0.5:
        over = _scroll(texture_page(3 * size, rng), num_frames, size, rng)
        centre = rng.uniform(0.25, 0.75, 2) * size
        radius = rng.uniform(0.2, 0.45) * size
        y, x = np.mgrid[0:size, 0:size]
        inside = np.hypot(y - centre[0], x - centre[1]) < radius
        frames = np.where(inside[None, ..., None], over, frames)
    return film_grain(frames, rng)


PALETTES = {  # colour stops from low to high density
    "smoke": [(20, 20, 25), (90, 90, 95), (200, 200, 205), (245, 245, 250)],
    "fire": [(10, 0, 0), (160, 20, 0), (250, 140, 10), (255, 250, 200)],
    "dye": [(5, 10, 60), (20, 120, 160), (180, 60, 170), (250, 230, 120)],
}


def _palette(values: np.ndarray, name: str) -> np.ndarray:
    stops = np.array(PALETTES[name], np.float32)
    positions = np.linspace(0, 1, len(stops))
    return np.stack([np.interp(values, positions, stops[:, c]) for c in range(3)], axis=-1)


def advect(field: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """``field`` moved along the displacement ``(dy, dx)`` (bilinear, periodic)."""
    height, width = field.shape
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    ys, xs = (y - dy) % height, (x - dx) % width
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    y1, x1 = (y0 + 1) % height, (x0 + 1) % width
    return ((field[y0, x0] * (1 - fx) + field[y0, x1] * fx) * (1 - fy)
            + (field[y1, x0] * (1 - fx) + field[y1, x1] * fx) * fy)


def turbulence_frames(num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Smoke, fire or dye: octaves of noise carried by a swirling flow that itself drifts, then coloured."""
    octaves = [value_noise((size, size), cells, rng) / (i + 1) for i, cells in enumerate((4, 8, 16, 32))]
    density = sum(octaves) / sum(1 / (i + 1) for i in range(len(octaves)))
    flow_y = (value_noise((size, size), 4, rng) - 0.5) * rng.uniform(1.0, 4.0)
    flow_x = (value_noise((size, size), 4, rng) - 0.5) * rng.uniform(1.0, 4.0)
    rise = rng.uniform(-2.0, 0.5)  # smoke and flames mostly rise
    palette = list(PALETTES)[rng.integers(len(PALETTES))]
    frames = []
    for _ in range(num_frames):
        frames.append(_palette(np.clip((density - 0.3) * 2.0, 0, 1), palette))
        density = advect(density, flow_y + rise, flow_x)
        flow_y, flow_x = advect(flow_y, flow_y, flow_x), advect(flow_x, flow_y, flow_x)
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8)


def ripple_frames(photos: list[np.ndarray], num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Circular waves from a few drifting sources, refracting and shading a photograph seen through water."""
    ground = camera_path_frames(as_rgb(photos[rng.integers(len(photos))]), num_frames, size, rng).astype(np.float32)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    sources = [{"at": rng.uniform(0, size, 2), "drift": rng.uniform(-0.5, 0.5, 2),
                "wavelength": rng.uniform(4.0, 16.0), "speed": rng.uniform(0.5, 2.0)}
               for _ in range(int(rng.integers(1, 5)))]
    depth = rng.uniform(1.0, 4.0)
    frames = []
    for t in range(num_frames):
        height = np.zeros((size, size), np.float32)
        for source in sources:
            cy, cx = source["at"] + source["drift"] * t
            r = np.hypot(y - cy, x - cx)
            height += np.sin(2 * np.pi * (r - source["speed"] * t) / source["wavelength"]) / (1 + r / size)
        gy, gx = np.gradient(height)
        ys, xs = np.clip(y + depth * gy * 4, 0, size - 1).astype(int), np.clip(x + depth * gx * 4, 0, size - 1).astype(int)
        frames.append(ground[t][ys, xs] * (1 + 0.25 * np.clip(gx + gy, -1, 1))[..., None])
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8)


def particle_frames(photos: list[np.ndarray], num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Snow, sparks or dust: many small points on random paths over a dimmed photograph."""
    ground = camera_path_frames(as_rgb(photos[rng.integers(len(photos))]), num_frames, size, rng).astype(np.float32)
    ground *= rng.uniform(0.2, 0.7)
    count = int(rng.integers(100, 600))
    position = rng.uniform(0, size, (count, 2))
    velocity = rng.normal(0, 1.0, (count, 2)) + np.array([rng.uniform(-1.5, 2.5), rng.uniform(-1.0, 1.0)])
    colour = np.array(_random_colour(rng), np.float32) * 0.5 + 127
    radius = rng.uniform(0.5, 2.0, count)
    frames = []
    for t in range(num_frames):
        light = np.zeros((size, size), np.float32)
        cells = np.clip(position.astype(int), 0, size - 1)
        np.add.at(light, (cells[:, 0], cells[:, 1]), radius)
        light = np.minimum(light, 1.0)
        frames.append(ground[t] * (1 - light[..., None]) + colour * light[..., None])
        position = (position + velocity + rng.normal(0, 0.3, position.shape)) % size
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8)


def cut_frames(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``first`` then ``second`` (same shape) joined by a hard cut or a cross-fade, or ``first`` faded from or
    to black."""
    num_frames = len(first)
    style = int(rng.integers(3))
    at = int(rng.integers(2, num_frames - 2))
    t = np.arange(num_frames, dtype=np.float32)[:, None, None, None]
    if style == 0:
        weight = (t >= at).astype(np.float32)
        out = first * (1 - weight) + second * weight
    elif style == 1:
        length = int(rng.integers(3, max(4, num_frames // 2)))
        weight = np.clip((t - at + length / 2) / length, 0, 1)
        out = first * (1 - weight) + second * weight
    else:
        length = int(rng.integers(3, num_frames))
        level = np.clip(t / length, 0, 1) if rng.random() < 0.5 else np.clip((num_frames - 1 - t) / length, 0, 1)
        out = first * level
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
