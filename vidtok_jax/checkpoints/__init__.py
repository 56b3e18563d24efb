"""Weight files of any model: PyTorch archives read without PyTorch, state dicts, training workdirs, the Hub.

``torch_pickle``, ``legacy_torch`` and ``restricted_pickle`` (safe reading of ``.ckpt`` files),
``state_dict`` (official state dicts ⇄ Flax parameter trees, safetensors), ``workdir`` (a training
run's checkpoints as numpy arrays) and ``hub`` (models named by their Hugging Face Hub id). What a
family's files mean is the family's: ``vidtok_jax.vidtok.checkpoint``, ``vidtok_jax.flextok.checkpoint``.
"""
