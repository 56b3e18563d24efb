"""The memory-optimized CPU scheduler: it lowers XLA's memory need, and a scheduler the user named is kept."""

import os
import subprocess
import sys

import pytest

from vidtok_jax.runtime import cpu_memory

pytestmark = pytest.mark.integration  # compiles in subprocesses

# A chain of residual convolutions and its gradient, the shape of a VidTok train step in small.
# Prints the compiled program's temporary memory in bytes.
PROGRAM = """
import sys
from vidtok_jax.runtime.cpu_memory import use_memory_optimized_cpu_scheduler
if sys.argv[1] == "memory_optimized":
    use_memory_optimized_cpu_scheduler()
import jax, jax.numpy as jnp

def conv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

def loss(kernels, x):
    for w in kernels:
        x = x + conv(jnp.tanh(conv(x, w)), w)
    return (x ** 2).mean()

kernels = [jnp.full((3, 3, 16, 16), 0.01 * i) for i in range(12)]
compiled = jax.jit(jax.grad(loss)).lower(kernels, jnp.ones((1, 64, 64, 16))).compile()
print(compiled.memory_analysis().temp_size_in_bytes)
"""


def _temp_bytes(scheduler: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"} | {"JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", PROGRAM, scheduler], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return int(result.stdout.split()[-1])


def test_memory_optimized_scheduler_needs_less_memory():
    default, memory_optimized = _temp_bytes("default"), _temp_bytes("memory_optimized")
    assert memory_optimized < 0.8 * default, (memory_optimized, default)


def test_flag_is_added_to_the_users_flags(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    assert cpu_memory.use_memory_optimized_cpu_scheduler()
    assert os.environ["XLA_FLAGS"] == f"--xla_cpu_multi_thread_eigen=false {cpu_memory.FLAG}"
    assert not cpu_memory.use_memory_optimized_cpu_scheduler()
    assert os.environ["XLA_FLAGS"].count("xla_cpu_scheduler_type") == 1


def test_a_scheduler_the_user_named_is_kept(monkeypatch):
    for chosen in ("--xla_cpu_scheduler_type=CPU_SCHEDULER_TYPE_CONCURRENCY_OPTIMIZED",
                   "--xla_cpu_enable_concurrency_optimized_scheduler=true"):
        monkeypatch.setenv("XLA_FLAGS", chosen)
        assert not cpu_memory.use_memory_optimized_cpu_scheduler()
        assert os.environ["XLA_FLAGS"] == chosen
    monkeypatch.delenv("XLA_FLAGS")
    assert cpu_memory.use_memory_optimized_cpu_scheduler()
    assert os.environ["XLA_FLAGS"] == cpu_memory.FLAG


def test_the_cli_and_train_py_choose_it_before_running(monkeypatch, tmp_path):
    import train
    from vidtok_jax.cli import main as cli_main

    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert cli_main(["reconstruct", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")]) != 0
    assert os.environ.get("XLA_FLAGS") == cpu_memory.FLAG
    monkeypatch.delenv("XLA_FLAGS")
    assert train.main(["--config", "no_such_config", "--workdir", str(tmp_path / "run")]) != 0
    assert os.environ.get("XLA_FLAGS") == cpu_memory.FLAG
