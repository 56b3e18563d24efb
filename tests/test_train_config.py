"""Training configs: presets load, overrides apply, and bad settings fail early with a clear ConfigError."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

import vidtok_jax as vt
from vidtok_jax.errors import ConfigError
from vidtok_jax.train.config import PRESET_DIR, load_train_config
from vidtok_jax.train.mesh import mesh_shape
from vidtok_jax.vidtok.family import initial_weights

SYNTHETIC = ["data.source=synthetic"]


def test_presets_load_or_name_their_missing_init_checkpoint():
    for preset in sorted(PRESET_DIR.glob("*.yaml")):
        try:
            config = load_train_config(preset.stem, ["data.data_dir=.", "eval.data_dir=."])
        except ConfigError as err:
            assert "init.checkpoint" in str(err) and "does not exist" in str(err)
            continue
        assert config.steps > 0 and config.model_config.name


def test_overrides_and_resolved_loss():
    config = load_train_config("stage1_kl_causal_488_4chn", SYNTHETIC + [
        "model.net.ch=32", "optimizer.learning_rate=2e-4", "loss.lecam_loss_weight=0.01", "mesh.fsdp=2"])
    assert config.model_config.encoder.ch == config.model_config.decoder.ch == 32
    assert config.optimizer.learning_rate == 2e-4
    assert config.loss.lecam_loss_weight == 0.01
    assert config.loss.disc_weight == 0.2 and config.loss.disc_type == "2d" and config.loss.learn_logvar
    assert config.loss.regularization_weights == {"aux_loss": 1.0, "kl_loss": 1e-6}
    assert config.loss.gan_start_step == 10001
    assert config.to_dict()["loss"]["disc_start"] == 20001


@pytest.mark.parametrize("overrides, message", [
    (["data.num_frames=16"], r"1 \+ 4k frames"),
    (["data.height=100"], "multiple of the spatial factor 8"),
    (["data.batch_size=6", "mesh.data=4"], "divisible by the data-parallel mesh size"),
    (["stage=2"], "stage 2 trains the decoder"),
    (["stage=3"], "stage must be 1"),
    (["init.checkpoint=/nonexistent/model.ckpt"], "does not exist"),
    (["optimizer.lerning_rate=1e-4"], "did you mean 'learning_rate'"),
    (["loss.disc_typ=3d"], "did you mean 'disc_type'"),
    (["loss.disc_type=4d"], "disc_type must be 2d or 3d"),
    (["model.net.chh=8"], "did you mean 'ch'"),
    (["model.net.ch_mult=[1,2]"], "time_downsample_factor=4"),
    (["model.remat=some"], "model.remat must be one of"),
    (["optimizer.schedule=cosine", "optimizer.warmup_steps=60000"], "must be below steps"),
    (["data.source=files"], "data.source must be one of"),
    (["mesh.data=-1", "mesh.fsdp=-1"], "only one of"),
    (["unknown.key=1"], "unknown key 'unknown'"),
    (["steps"], "key=value"),
    (["init.posterior_logvar=low"], "'init.posterior_logvar' must be float"),
])
def test_bad_settings_are_rejected_before_anything_runs(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_train_config("stage1_kl_causal_488_4chn", SYNTHETIC + overrides)


def test_video_source_needs_a_folder_and_noncausal_frames_divide():
    with pytest.raises(ConfigError, match="needs data.data_dir"):
        load_train_config("stage1_kl_causal_488_4chn")
    with pytest.raises(ConfigError, match="multiple of 4"):
        load_train_config("stage1_kl_causal_488_4chn", SYNTHETIC + [
            "model.config=vidtok_kl_noncausal_488_4chn", "data.num_frames=17"])


def test_mesh_must_use_every_device():
    assert mesh_shape(-1, 2, 8) == (4, 2)
    assert mesh_shape(2, -1, 8) == (2, 4)
    with pytest.raises(ConfigError, match="does not use the 8 devices"):
        mesh_shape(3, 2, 8)


def test_posterior_logvar_starts_a_fresh_kl_model_with_that_variance():
    import jax
    import numpy as np

    from vidtok_jax.vidtok.state import init_state

    tiny = SYNTHETIC + ["model.net.ch=8", "model.net.ch_mult=[1,2]", "model.net.time_downsample_factor=2",
                        "data.num_frames=5", "data.height=16", "data.width=16", "loss.disc_channels=4"]
    config = load_train_config("tiny_cpu", tiny + ["init.posterior_logvar=-6"])
    bias = np.asarray(jax.jit(lambda: init_state(config))().generator["autoencoder"]["encoder"]["conv_out"]["conv"]["bias"])
    z = config.model_config.encoder.z_channels
    assert bias.shape == (2 * z,) and np.all(bias[z:] == -6.0) and np.all(np.abs(bias[:z]) < 1)
    with pytest.raises(ConfigError, match="freshly initialised KL model"):
        load_train_config("stage1_fsq_causal_488_262144", SYNTHETIC + ["init.posterior_logvar=-6"])


def test_a_batch_that_does_not_split_over_the_devices_is_a_one_line_error(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.helpers import subprocess_env
    result = subprocess.run([sys.executable, str(REPO / "train.py"), "--config", "tiny_cpu", "--workdir",
                             str(tmp_path / "w"), "--steps", "8", "--set", "optimizer.warmup_steps=2"],
                            cwd=REPO, env=subprocess_env(tmp_path / "cache", devices=8), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1
    assert "error: data.batch_size=2 does not split over the 8 devices" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_checkpoint_may_name_the_bundled_model():
    config = load_train_config("default_model_motion", ["data.data_dir=."])
    assert config.init.checkpoint == "vidtok_jax_default"
    loaded, bundled = initial_weights(config)["autoencoder"], vt.load_tokenizer().params
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(bundled)
    for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(bundled)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_the_config_is_typed_and_its_document_reads_back_to_the_same_config():
    config = load_train_config("tiny_cpu", ["checkpoint.async=false", "flextok.shape={dim: 64}"])
    assert config.checkpoint.async_ is False and config.flextok.shape == {"dim": 64}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.data.batch_size = 4
    assert load_train_config(config.to_dict()) == config
