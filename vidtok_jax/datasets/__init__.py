"""Builders of training sets: commands that write video clips to a folder for ``data.source: videos``.

``python -m vidtok_jax.datasets.default_data DATA_DIR`` (the bundled default model's training data: real
clips and photographs filmed by a moving camera) and ``python -m vidtok_jax.datasets.motion_data DATA_DIR``
(clips with real motion and a wide colour range); ``camera_motion`` (pan and zoom over photographs) and
``film`` (real footage from a film trailer) are their parts. The input pipeline that reads such
folders is ``vidtok_jax.data``.
"""
