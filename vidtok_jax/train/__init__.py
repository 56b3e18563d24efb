"""Training, model-agnostic: configs and presets, the engine's loop, checkpoints, input, mesh and logging.

The engine knows a model family only by interface (``engine``); the families live with their models
(``vidtok_jax.vidtok.family``, ``vidtok_jax.flextok.training``) and ``command`` (``python -m
vidtok_jax.train``) picks one for a config.
"""
