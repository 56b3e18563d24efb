"""Model-independent helpers every other package may use: they import nothing of vidtok_jax but ``errors``.

``compilation_cache`` and ``cpu_memory`` (JAX/XLA settings made once per process), ``atomic_files``
(outputs that appear only complete), ``array_checks`` and ``checked_values`` (checks of arrays and
numbers), ``config_files`` (what the config readers share), ``flops`` (analytic FLOPs of any JAX function).
"""
