"""The fine-detail and stochastic-motion clip kinds: what each generator computes (motion_data's own test
checks that every kind is seeded, moves and has the clip shape)."""

from __future__ import annotations

import numpy as np
import pytest

from vidtok_jax.datasets import detail_motion
from vidtok_jax.datasets.camera_motion import as_rgb, camera_path_frames
from vidtok_jax.datasets.default_data import photographs


def _detail(frames: np.ndarray) -> tuple[float, float]:
    """Mean absolute difference of horizontally neighbouring pixels, and the fraction of sharp edges (> 64)."""
    step = np.abs(np.diff(frames.astype(np.float32), axis=2))
    return float(step.mean()), float((step > 64).mean())


def test_text_has_sharper_edges_and_texture_finer_detail_than_a_photograph_under_the_camera():
    photos = list(photographs().values())
    fonts = detail_motion.font_files()
    detail = {"camera": [], "text": [], "texture": []}
    for seed in range(6):
        rng = np.random.default_rng(seed)
        detail["camera"].append(_detail(camera_path_frames(as_rgb(photos[seed]), 3, 48, rng)))
        detail["text"].append(_detail(detail_motion.text_frames(photos, 3, 48, rng, fonts)))
        detail["texture"].append(_detail(detail_motion.texture_frames(3, 48, rng)))
    mean = {kind: np.mean(values, axis=0) for kind, values in detail.items()}
    assert mean["text"][1] > 2 * mean["camera"][1]
    assert mean["texture"][0] > 2 * mean["camera"][0]


def test_text_renders_with_pillows_font_where_matplotlib_is_missing():
    page = detail_motion.text_page([np.zeros((8, 8, 3))], 64, np.random.default_rng(0), fonts=[])
    assert page.shape == (64, 64, 3) and page.std() > 0


def test_advection_by_whole_pixels_is_a_periodic_shift():
    field = np.random.default_rng(0).random((6, 8))
    moved = detail_motion.advect(field, np.full((6, 8), 2.0), np.full((6, 8), -3.0))
    np.testing.assert_allclose(moved, np.roll(field, (2, -3), axis=(0, 1)), atol=1e-6)


def test_value_noise_is_smooth_and_in_the_unit_interval():
    noise = detail_motion.value_noise((64, 64), 4, np.random.default_rng(1))
    assert 0 <= noise.min() and noise.max() <= 1 and noise.std() > 0.05
    assert np.abs(np.diff(noise, axis=1)).max() < 0.1  # 16 pixels per lattice cell


def test_grain_is_new_in_every_frame():
    grainy = detail_motion.film_grain(np.full((4, 16, 16, 3), 128, np.uint8), np.random.default_rng(0))
    assert all(not np.array_equal(grainy[i], grainy[i + 1]) for i in range(3))
    assert 1 < grainy.astype(np.float32).std() < 20


@pytest.mark.parametrize("seed", range(12))
def test_cuts_join_two_clips_by_a_cut_or_a_cross_fade_or_fade_one_to_black(seed):
    first, second = np.full((9, 4, 4, 3), 60, np.uint8), np.full((9, 4, 4, 3), 200, np.uint8)
    levels = detail_motion.cut_frames(first, second, np.random.default_rng(seed))[:, 0, 0, 0].astype(int)
    steps = np.diff(levels)
    assert np.all(steps >= 0) or np.all(steps <= 0)  # one transition, monotone
    if levels.max() > 60:  # into the second clip: from 60 to 200, a hard cut jumps in one frame
        assert levels[0] == 60 and levels[-1] == 200
    else:  # a fade from or to black
        assert levels.min() == 0 and levels.max() == 60


def test_every_way_of_joining_occurs():
    first, second = np.full((9, 2, 2, 3), 60, np.uint8), np.full((9, 2, 2, 3), 200, np.uint8)
    kinds = set()
    for seed in range(30):
        levels = detail_motion.cut_frames(first, second, np.random.default_rng(seed))[:, 0, 0, 0]
        kinds.add("fade" if levels.max() <= 60 else "cut" if set(levels) == {60, 200} else "cross-fade")
    assert kinds == {"fade", "cut", "cross-fade"}
