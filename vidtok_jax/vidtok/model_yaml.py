"""Write a `ModelConfig` back as an official VidTok config document (what ``load_model_config`` reads).

Checkpoints store this document, so that a training workdir or an exported ``.safetensors`` file
carries a config that both this package and the official PyTorch code can load.
"""

from __future__ import annotations

from typing import Any, Mapping

from vidtok_jax.vidtok.config import ENGINE_TARGETS, FSQ_TARGET, KL_TARGET, NET_TARGETS, ModelConfig, NetConfig

_NET_TARGET_OF = {spec: target for target, spec in NET_TARGETS.items()}
_ENGINE_TARGET_OF = {version: target for target, version in ENGINE_TARGETS.items()}
_OPTIONAL_LEVELS = ("spatial_ds", "tempo_ds", "spatial_us", "tempo_us")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _net_doc(net: NetConfig, role: str) -> dict:
    params = {
        "double_z": net.double_z, "z_channels": net.z_channels, "in_channels": net.in_channels,
        "out_ch": net.out_ch, "ch": net.ch, "ch_mult": list(net.ch_mult),
        "time_downsample_factor": net.time_downsample_factor, "num_res_blocks": net.num_res_blocks,
        "dropout": 0.0, "init_pad_mode": net.init_pad_mode, "norm_type": net.norm_type, "tanh_out": net.tanh_out,
    }
    if net.causal and net.version == "1.1":
        params["interpolation_mode"] = net.interpolation_mode
    if net.causal:
        params.update({key: list(getattr(net, key)) for key in _OPTIONAL_LEVELS if getattr(net, key) is not None})
    return {"target": _NET_TARGET_OF[(role, net.causal, net.version)], "params": params}


def _regularizer_doc(model: ModelConfig) -> dict:
    reg = model.regularizer
    if reg.kind == "kl":
        return {"target": KL_TARGET}
    return {"target": FSQ_TARGET, "params": {
        "levels": list(reg.levels), "entropy_loss_weight": reg.entropy_loss_weight,
        "entropy_loss_annealing_steps": reg.entropy_loss_annealing_steps,
        "entropy_loss_annealing_factor": reg.entropy_loss_annealing_factor,
        "commitment_loss_weight": reg.commitment_loss_weight, "diversity_gamma": reg.diversity_gamma}}


def official_config_doc(model: ModelConfig, loss_params: Mapping | None = None) -> dict:
    """The ``model:`` document of ``model``; ``loss_params`` replaces its ``loss_config.params``."""
    loss = _plain(model.loss) if model.loss else {}
    if loss_params is not None:
        loss = {"target": loss.get("target", "vidtok.modules.losses.GeneralLPIPSWithDiscriminator"),
                "params": _plain(loss_params)}
    params = {
        "encoder_config": _net_doc(model.encoder, "encoder"),
        "decoder_config": _net_doc(model.decoder, "decoder"),
        "regularizer_config": _regularizer_doc(model),
    }
    if loss:
        params["loss_config"] = loss
    return {"model": {"base_learning_rate": model.base_learning_rate,
                      "target": _ENGINE_TARGET_OF[model.version if model.causal else "1.0"], "params": params}}
