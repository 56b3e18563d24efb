"""Config reading: bundled official configs, parameter counts, clear errors for bad configs."""

from __future__ import annotations

import textwrap

import pytest
import yaml

import vidtok_jax as vt
from vidtok_jax.vidtok.config import BUNDLED_DIR, model_config_from_dict
from tests.conftest import REFERENCE

# Encoder + decoder parameter counts of the official PyTorch modules, one per official config.
OFFICIAL_PARAM_COUNTS = {
    "vidtok_fsq_causal_41616_262144": 198_967_949,
    "vidtok_fsq_causal_488_262144": 157_451_661,
    "vidtok_fsq_causal_488_32768": 157_424_012,
    "vidtok_fsq_causal_488_4096": 157_396_363,
    "vidtok_fsq_noncausal_41616_262144": 198_967_949,
    "vidtok_fsq_noncausal_488_262144": 157_451_661,
    "vidtok_kl_causal_288_8chn": 148_769_429,
    "vidtok_kl_causal_41616_4chn": 198_967_951,
    "vidtok_kl_causal_444_4chn": 154_944_271,
    "vidtok_kl_causal_488_16chn": 157_949_351,
    "vidtok_kl_causal_488_4chn": 157_451_663,
    "vidtok_kl_causal_488_8chn": 157_617_559,
    "vidtok_kl_noncausal_41616_16chn": 199_465_639,
    "vidtok_kl_noncausal_41616_4chn": 198_967_951,
    "vidtok_kl_noncausal_488_16chn": 157_949_351,
    "vidtok_kl_noncausal_488_4chn": 157_451_663,
    "vidtok_fsq_causal_41616_262144_v1_1": 198_967_949,
    "vidtok_fsq_causal_488_32768_v1_1": 157_424_012,
    "vidtok_fsq_causal_888_32768_v1_1": 164_944_910,
    "vidtok_kl_causal_288_8chn_v1_1": 148_769_429,
    "vidtok_kl_causal_41616_16chn_v1_1": 199_465_639,
    "vidtok_kl_causal_488_16chn_v1_1": 157_949_351,
    "vidtok_kl_causal_488_4chn_v1_1": 157_451_663,
}


def test_all_official_configs_are_bundled():
    assert vt.bundled_config_names() == sorted(OFFICIAL_PARAM_COUNTS)
    assert sum(name.endswith("_v1_1") for name in vt.bundled_config_names()) == 7


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAM_COUNTS))
def test_param_count_equals_official(name):
    assert vt.count_params(name) == OFFICIAL_PARAM_COUNTS[name]


@pytest.mark.parametrize("name", ["vidtok_kl_causal_444_4chn", "vidtok_fsq_causal_888_32768_v1_1",
                                  "vidtok_kl_causal_288_8chn", "vidtok_kl_noncausal_41616_4chn"])
def test_compression_factors(name):
    cfg = vt.load_model_config(name)
    t, s = {"444": (4, 4), "888": (8, 8), "288": (2, 8), "41616": (4, 16)}[name.split("_")[3]]
    assert (cfg.temporal_factor, cfg.spatial_factor) == (t, s)


def test_name_with_yaml_suffix_and_version_flags():
    cfg = vt.load_model_config("vidtok_fsq_causal_488_32768_v1_1.yaml")
    assert cfg.version == "1.1" and cfg.causal and cfg.is_fsq
    assert cfg.regularizer.codebook_size == 32768
    assert cfg.decoder == cfg.encoder  # the decoder params interpolate the encoder params
    assert cfg.encoder.interpolation_mode == "trilinear"


def test_reference_config_with_interpolation_is_read():
    path = REFERENCE / "kl_causal_488_4chn" / "config.yaml"
    if not path.is_file():
        pytest.skip(f"reference config missing: {path}")
    cfg = vt.load_model_config(path)
    assert cfg.encoder.ch == 16 and cfg.decoder.ch == 16 and cfg.regularizer.kind == "kl"


def _doc(name="vidtok_kl_causal_488_4chn"):
    return yaml.safe_load((BUNDLED_DIR / f"{name}.yaml").read_text())


def test_unknown_key_is_named_with_suggestion():
    doc = _doc()
    doc["model"]["params"]["encoder_config"]["params"]["z_chanels"] = 4
    with pytest.raises(vt.ConfigError, match=r"z_chanels.*did you mean 'z_channels'"):
        model_config_from_dict(doc)


def test_missing_key_is_named():
    doc = _doc()
    del doc["model"]["params"]["encoder_config"]["params"]["ch"]
    with pytest.raises(vt.ConfigError, match=r"missing key in model.params.encoder_config.params: ch"):
        model_config_from_dict(doc)


def test_interpolation_to_missing_key_is_an_error():
    doc = _doc()
    doc["model"]["params"]["decoder_config"]["params"] = "${model.params.nothing.params}"
    with pytest.raises(vt.ConfigError, match="does not exist"):
        model_config_from_dict(doc)


def test_inconsistent_time_factor_is_rejected():
    doc = _doc()
    doc["model"]["params"]["encoder_config"]["params"]["time_downsample_factor"] = 8
    with pytest.raises(vt.ConfigError, match="time_downsample_factor=8"):
        model_config_from_dict(doc)


def test_unknown_config_name_suggests_close_names():
    with pytest.raises(vt.ConfigError, match="did you mean vidtok_kl_causal_488_4chn"):
        vt.load_model_config("vidtok_kl_causal_488_4ch")


def test_invalid_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        model:
          target: [unclosed
        """))
    with pytest.raises(vt.ConfigError, match="not valid YAML"):
        vt.load_model_config(path)
