"""The Python examples of README.md and docs/*.md run, in order, as a user would paste them.

Files a user would download stand in for small models: an official VidTok checkpoint becomes a
random-weight model of that config with 8 base channels, an official VideoFlexTok file a small
random one over the bundled VidTok (without a path the bundled VideoFlexTok loads), `clip.mp4`
the bundled demo clip. Names the examples take from the reader's context (`video`, `T`,
`chunks`, ...) are defined first. An example that no longer matches the API fails here.
"""

from __future__ import annotations

import dataclasses
import re
import shutil

import jax
import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.cli.demo import DEMO_CLIP
from vidtok_jax.vidtok.tokenizer import init_params
from tests.conftest import documentation_text
from tests.helpers import small

pytestmark = pytest.mark.integration  # every Python example of the docs, in order


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", documentation_text(), flags=re.S)


def _downloaded_tokenizer(real):
    downloads = {}  # a file is downloaded once: the same weights each time an example names it

    def load(config=None, checkpoint=None, **kwargs):
        if checkpoint is None or str(checkpoint).startswith(("/", ".")):
            return real(config, checkpoint, **kwargs)
        if config not in downloads:
            cfg = vt.load_model_config(config)
            cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, ch=8),
                                      decoder=dataclasses.replace(cfg.decoder, ch=8))
            downloads[config] = vt.Tokenizer(cfg, init_params(cfg))
        return downloads[config]
    return load


def _downloaded_videoflextok(real):
    def load(path=None, **kwargs):
        if path is None:  # the bundled model
            return real(**kwargs)
        flex = small(vidtok=vt.load_tokenizer(), posemb_max=16, registers=16)
        flex.latent_size = (32, 32)  # what a Hub folder's config.json says
        return flex
    return load


class _Writer:
    def __init__(self):
        self.frames = 0

    def write(self, frames):
        self.frames += frames.shape[1]


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = python_blocks()
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    shutil.copy(DEMO_CLIP, tmp_path / "clip.mp4")
    monkeypatch.setattr(vt, "load_tokenizer", _downloaded_tokenizer(vt.load_tokenizer))
    monkeypatch.setattr(vt, "load_videoflextok", _downloaded_videoflextok(vt.load_videoflextok))
    rng = np.random.default_rng(0)
    video = rng.uniform(-1, 1, (1, 17, 32, 32, 3)).astype(np.float32)
    writer = _Writer()
    namespace = {"video": video, "T": 17, "writer": writer, "num_frames": 33, "t": 0.5,
                 "chunks": (video[:, :16], video[:, 16:], rng.uniform(-1, 1, (1, 16, 32, 32, 3)).astype(np.float32))}
    for number, block in enumerate(blocks, start=1):
        if "flex.tokenize_latents(z)" in block:  # latents of the clip the example tokenizes
            z = jax.random.normal(jax.random.key(number), (1, 5, 32, 32, 16))
            namespace.update(z=z, eps=jax.random.normal(jax.random.key(0), z.shape), noisy_latents=z)
        try:
            exec(compile(block, f"documentation python block {number}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"documentation python block {number} failed: {type(error).__name__}: {error}")
    assert writer.frames == 33
    assert (tmp_path / "out.mp4").is_file() and (tmp_path / "model.safetensors").is_file()
    assert (tmp_path / "copy.safetensors").is_file()
