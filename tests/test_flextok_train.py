"""Training VideoFlexTok: the objective's parts, and train.py's engine running the videoflextok family
(loss falls, a resumed run equals a straight one, eight devices (data and fsdp) equal one, the export loads as an
official file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import vidtok_jax as vt
from vidtok_jax.checkpoints.workdir import read_checkpoint
from vidtok_jax.flextok.linear_code import fit_linear_code, latent_frame_crops, linear_code_maps
from vidtok_jax.flextok.objective import FlowObjective, flow_matching_loss, sample_keep
from vidtok_jax.flextok.training import FlexTokFamily
from vidtok_jax.train.config import load_train_config
from tests.conftest import REPO
from tests.helpers import R, assert_same_tree, kill_after_first_checkpoint, read_metrics, small, subprocess_env

pytestmark = pytest.mark.integration  # VideoFlexTok training runs

FLEX = ["data.batch_size=2", "eval.batch_size=2", "eval.every=4", "checkpoint.every=4", "checkpoint.keep=10",
        "log.every=1", "optimizer.schedule=constant", "flextok.eval_steps=2"]


def test_nested_dropout_draws_powers_of_two_or_uniform_k():
    pow2 = np.asarray(sample_keep(jax.random.key(0), 4000, 16, "pow2"))
    assert set(pow2.tolist()) == {1, 2, 4, 8, 16}
    assert np.allclose(np.bincount(pow2)[[1, 2, 4, 8, 16]] / 4000, 0.2, atol=0.03)
    uniform = np.asarray(sample_keep(jax.random.key(0), 4000, 6, "uniform"))
    assert set(uniform.tolist()) == set(range(1, 7))
    assert np.asarray(sample_keep(jax.random.key(0), 5, 16, "none")).tolist() == [16] * 5


def test_keep_sampling_setting_overrides_the_model_config_and_is_checked():
    assert FlexTokFamily(load_train_config("flex_tiny_cpu", [])).objective.keep_sampling == "pow2"
    family = FlexTokFamily(load_train_config("flex_tiny_cpu", ["flextok.keep_sampling=none"]))
    assert family.objective.keep_sampling == "none"
    with pytest.raises(vt.ConfigError, match="keep_sampling"):
        load_train_config("flex_tiny_cpu", ["flextok.keep_sampling=random"])


@pytest.fixture(scope="module")
def flex():
    return small()


def _loss_and_grads(flex, objective, latents):
    loss_fn = lambda p: flow_matching_loss(flex.encoder, flex.decoder, flex.fsq, p, latents,  # noqa: E731
                                           jax.random.key(3), objective)
    (loss, logs), grads = jax.value_and_grad(loss_fn, has_aux=True)(flex.params)
    return loss, logs, grads


def test_gradients_reach_the_encoder_through_fsq_unless_every_clip_is_null(flex):
    latents = jax.random.normal(jax.random.key(1), (2, 3, 8, 8, 16))
    _, logs, grads = _loss_and_grads(flex, FlowObjective(null_prob=0.0), latents)
    assert float(optax.tree.norm(grads["encoder"])) > 1e-4
    assert float(logs["null_fraction"]) == 0.0
    _, logs, grads = _loss_and_grads(flex, FlowObjective(null_prob=1.0), latents)
    assert float(logs["null_fraction"]) == 1.0
    assert float(optax.tree.norm(grads["encoder"])) == 0.0  # the null condition hides every token
    assert float(optax.tree.norm(grads["decoder"])) > 1e-4


def test_the_loss_with_other_clips_tokens_measures_how_much_the_decoder_uses_its_tokens(flex):
    latents = jax.random.normal(jax.random.key(1), (2, 3, 8, 8, 16))
    objective = FlowObjective(null_prob=0.0)
    loss = lambda tokens_of: float(flow_matching_loss(flex.encoder, flex.decoder, flex.fsq, flex.params, latents,  # noqa: E731
                                                      jax.random.key(3), objective, tokens_of)[0])
    assert loss(latents) == loss(None)
    assert abs(loss(jnp.roll(latents, 1, axis=0)) - loss(None)) > 1e-4


def test_prefix_frames_are_left_out_of_the_loss(flex):
    latents = jax.random.normal(jax.random.key(1), (2, 3, 8, 8, 16))
    none, logs, _ = _loss_and_grads(flex, FlowObjective(prefix_lengths=(0,), prefix_probs=(1.0,)), latents)
    assert float(none) > 0 and float(logs["mean_prefix"]) == 0
    everything, logs, grads = _loss_and_grads(flex, FlowObjective(prefix_lengths=(3,), prefix_probs=(1.0,)), latents)
    assert float(everything) == 0.0 and float(logs["mean_prefix"]) == 3
    assert float(optax.tree.norm(grads)) == 0.0


def test_objective_reads_the_official_noise_module():
    objective = FlowObjective.from_config(small().config)
    assert objective.keep_sampling == "pow2" and objective.null_prob == pytest.approx(0.2)
    assert objective.prefix_lengths == (0, 1) and objective.prefix_probs == (0.5, 0.5)
    assert objective.cond_sigma_range == (0.0, 0.02) and objective.logit_normal
    with pytest.raises(vt.ConfigError, match="power-of-two"):
        FlowObjective.from_config(small(registers=6).config)


def _command(workdir: Path, steps: int, extra=()) -> list[str]:
    sets = [arg for item in FLEX + list(extra) for arg in ("--set", item)]
    return [sys.executable, "-m", "vidtok_jax.train", "--config", "flex_tiny_cpu", "--workdir", str(workdir),
            "--steps", str(steps), *sets]


def _run(workdir: Path, steps: int, cache: Path, devices: int | None = None, extra=()) -> subprocess.CompletedProcess:
    result = subprocess.run(_command(workdir, steps, extra), cwd=REPO, env=subprocess_env(cache, devices), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def flex_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("flex_jax_cache")


def test_engine_trains_resumes_after_kill_9_exactly_and_exports(tmp_path, flex_cache, capfd):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    first_line = next(line for line in _run(straight, 24, flex_cache).stdout.splitlines() if line.startswith("step 1/"))
    assert "including compilation" in first_line and "eta" not in first_line
    assert "already finished: " in _run(straight, 24, flex_cache).stdout
    losses = [m["train/total_loss"] for m in read_metrics(straight) if "train/total_loss" in m]
    assert len(losses) == 24 and np.mean(losses[-6:]) < 0.85 * np.mean(losses[:6])
    assert any("eval/eval_psnr" in m and "eval/eval_token_gain" in m for m in read_metrics(straight))
    saved = kill_after_first_checkpoint(_command(killed, 1000), killed, subprocess_env(flex_cache), 4)
    assert saved[-1] < 24, f"killed too late to test resuming (checkpoints {saved})"
    assert f"resumed from step {saved[-1]}" in _run(killed, 24, flex_cache).stdout
    capfd.readouterr()
    assert_same_tree(read_checkpoint(killed, 24)[1]["params"], read_checkpoint(straight, 24)[1]["params"], atol=1e-6)
    assert "read only" not in capfd.readouterr().err

    exported = tmp_path / "flex.safetensors"
    result = subprocess.run([sys.executable, "-m", "vidtok_jax.train", "export", "--workdir", str(straight),
                             "--out", str(exported)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    flex = vt.load_videoflextok(exported, vidtok=vt.load_tokenizer())
    trained = read_checkpoint(straight, 24)[1]["params"]
    assert_same_tree(jax.device_get(flex.params), trained)
    ids = flex.tokenize(jnp.zeros((1, 17, 32, 32, 3)))
    assert ids.shape == (1, 5, 8) == (1, 5, R)
    export = [sys.executable, "-m", "vidtok_jax.train", "export", "--workdir", str(straight), "--sampler-steps", "2"]
    result = subprocess.run([*export, "--out", str(tmp_path / "hub")], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert vt.load_videoflextok(tmp_path / "hub").sampler_steps == 2
    for source in (tmp_path / "hub", straight):
        family = FlexTokFamily(load_train_config("flex_tiny_cpu", [f"init.checkpoint={source}"]))
        assert_same_tree(family.initial_weights(), trained)
    refused = subprocess.run([*export, "--out", str(tmp_path / "file.safetensors")], cwd=REPO, capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 2 and "Hub folder" in refused.stderr and "Traceback" not in refused.stderr


def test_one_and_eight_devices_give_the_same_params(tmp_path, flex_cache):
    batch = ["data.batch_size=8", "eval.batch_size=8"]
    eight = _run(tmp_path / "eight", 6, flex_cache, devices=8, extra=[*batch, "mesh.data=4", "mesh.fsdp=2"])
    assert "mesh {'data': 4, 'fsdp': 2} over 8 cpu devices" in eight.stdout
    _run(tmp_path / "one", 6, flex_cache, extra=batch)
    assert_same_tree(read_checkpoint(tmp_path / "eight", 6)[1]["params"],
                     read_checkpoint(tmp_path / "one", 6)[1]["params"], atol=2e-4)


def test_latent_shards_give_the_latents_and_the_steps_of_the_on_the_fly_path(tmp_path):
    from vidtok_jax.cli import main as cli_main
    from vidtok_jax.data.latent_shards import LatentBatches, read_latent_shards
    from vidtok_jax.data.synthetic import synthetic_clip

    videos, shards = tmp_path / "videos", tmp_path / "shards"
    videos.mkdir()
    for index in range(2):
        vt.write_video(videos / f"clip{index}.mp4", synthetic_clip(np.random.default_rng(index), 17, 32, 32), 8.0)
    assert cli_main(["encode-dir", str(videos), str(shards)]) == 0
    clips = np.concatenate([vt.read_video(videos / f"clip{index}.mp4")[0] for index in range(2)])
    tok = vt.load_tokenizer()
    stored = read_latent_shards(shards)
    np.testing.assert_allclose(np.stack(stored), np.asarray(tok.encode(clips)), atol=1e-5, rtol=0)
    batch = next(LatentBatches(stored, 2, 5, 8, 8, seed=0))["latents"]
    assert batch.shape == (2, 5, 8, 8, 16) and {tuple(z.ravel()[:4]) for z in batch} <= {tuple(z.ravel()[:4]) for z in stored}

    sets = [f"data.data_dir={shards}", f"eval.data_dir={videos}", "data.batch_size=2"]
    from_latents = FlexTokFamily(load_train_config("flex_tiny_cpu", [*sets, "data.source=latents"]))
    on_the_fly = FlexTokFamily(load_train_config("flex_tiny_cpu", ["data.source=videos", *sets[1:],
                                                                   f"data.data_dir={videos}"]))
    state = on_the_fly.init_state(None)
    step = lambda family, inputs: jax.jit(family.train_step)(state, inputs, family.aux())[0].params  # noqa: E731
    assert_same_tree(step(from_latents, jnp.asarray(np.stack(stored))), step(on_the_fly, jnp.asarray(clips)), atol=1e-6)

    smaller = tmp_path / "shards16"  # a list of folders: the same clips encoded at two sizes
    assert cli_main(["encode-dir", str(videos), str(smaller), "--size", "16"]) == 0
    both = read_latent_shards([shards, smaller])
    assert [z.shape[1:3] for z in both] == [(8, 8), (8, 8), (4, 4), (4, 4)]
    family = FlexTokFamily(load_train_config("flex_tiny_cpu", [f"data.data_dir=[{shards}, {smaller}]", *sets[1:],
                                                               "data.source=latents"]))
    assert family.reads_latents
    linear = FlexTokFamily(load_train_config("flex_tiny_cpu", [*sets, "data.source=latents", "flextok.readout=pca",
                                                               "flextok.readout_weight=1.0"]))
    code = fit_linear_code(latent_frame_crops(stored, 8, 8), linear.flex_config.levels, linear.flex_config.num_registers)
    np.testing.assert_allclose(np.asarray(linear.fixed_readout["kernel"]), code.readout()["kernel"], rtol=1e-6)
    pca_state = linear.init_state(None)
    assert "readout" not in pca_state.params  # fixed: nothing of it is trained or saved
    logs = jax.jit(linear.train_step)(pca_state, jnp.asarray(np.stack(stored)), linear.aux())[1]
    assert np.isfinite(float(logs["readout_loss"])) and float(logs["readout_loss"]) > 0
    coded = FlexTokFamily(load_train_config("flex_tiny_cpu", [*sets, "data.source=latents", "flextok.linear_code=true",
                                                              "optimizer.schedule=constant", "optimizer.warmup_steps=0"]))
    maps = linear_code_maps(latent_frame_crops(stored, 8, 8), coded.flex_config.levels, coded.flex_config.num_registers)
    coded_state = coded.init_state(None)
    fixed = {"encoder": "module_dict.enc_to_latents.linear_code", "decoder": "module_dict.dec_to_patches.linear_code"}
    for part, name in fixed.items():
        np.testing.assert_allclose(np.asarray(coded_state.params[part][name]["kernel"]), maps[part]["kernel"], rtol=1e-6)
    stepped = jax.jit(coded.train_step)(coded_state, jnp.asarray(np.stack(stored)), coded.aux())[0].params
    for part, name in fixed.items():  # the maps stay as fitted; the rest of the model trains
        assert_same_tree(stepped[part][name], coded_state.params[part][name], atol=0)
    assert not np.allclose(stepped["encoder"]["module_dict.enc_to_latents.proj"]["kernel"],
                           coded_state.params["encoder"]["module_dict.enc_to_latents.proj"]["kernel"])
    with pytest.raises(vt.ConfigError, match="name an encode-dir folder"):
        read_latent_shards([])

    with pytest.raises(vt.ConfigError, match="family: videoflextok"):
        load_train_config("tiny_cpu", [*sets, "data.source=latents"])
    with pytest.raises(vt.ConfigError, match="encode-dir"):
        FlexTokFamily(load_train_config("flex_tiny_cpu", [*sets[1:], "data.source=latents", f"data.data_dir={videos}"]))
