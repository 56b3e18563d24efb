"""Video files in and out, preprocessing to the model's value range, and the training input pipeline.

Submodules: ``video`` (PyAV reading, probing and atomic writing), ``video_files`` (``read_video`` and
``write_video`` of the public API, in the model's format), ``images`` (PNG frame grids), ``chunks``
(videos as streams of frame chunks), ``transforms`` (value range, resize + center crop, padding),
``sampling`` (the official frame sampling rules), ``sources`` (listing training videos), ``dataset``
(the grain pipeline), ``synthetic`` (moving patterns), ``latent_shards`` (encode-dir latents) and
``seeded_batches``. Import what you need from them directly: this package imports nothing itself, so
reading a video never loads grain.
"""
