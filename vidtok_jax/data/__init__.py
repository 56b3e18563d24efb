"""Video files in and out, preprocessing to the model's value range, and the training data pipeline.

Submodules: ``video`` (PyAV reading, probing and atomic writing), ``transforms`` (value range,
resize + center crop, padding), ``sampling`` (the official frame sampling rules), ``sources``
(listing training videos) and ``dataset`` (the grain pipeline). Import what you need from them
directly: this package imports nothing itself, so reading a video never loads grain.
"""
