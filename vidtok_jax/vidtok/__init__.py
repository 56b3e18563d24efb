"""VidTok (arXiv 2412.13061) in JAX: the model family, from its config files to its training recipe.

Model: ``config`` (typed configs, the reader of official YAML files, the bundled ``model_configs/``),
``model_yaml`` (the writer of official config documents), ``default_model`` (the bundled small model),
``quantizers`` (FSQ, diagonal Gaussian), ``nn`` (the networks), ``tiling`` and ``streaming``
(high resolutions, long videos), ``checkpoint`` (training workdirs as weights, export) and ``tokenizer``
(``load_tokenizer``, ``Tokenizer``). Training family: ``losses``, ``state``, ``step`` and ``family``
(``VidTokFamily``, what ``vidtok_jax.train.engine`` trains for ``family: vidtok``).
"""
