"""The device mesh of a training run and the shardings of its arrays.

Two axes: ``data`` (pure data parallelism) and ``fsdp`` (data parallelism whose parameters and
optimizer state are also split across devices). Batches are split along both; every array of
the train state with at least ``FSDP_MIN_SIZE`` elements is split along ``fsdp`` on its largest
axis that divides evenly, everything else is replicated. The axes are ``AxisType.Auto``: the
compiler inserts the all-gathers and reduce-scatters, so the Flax model needs no sharding code.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec

from vidtok_jax.errors import ConfigError

AXES = ("data", "fsdp")
BATCH_AXES = ("data", "fsdp")
FSDP_MIN_SIZE = 2 ** 12
# The random keys of a train state: XLA's RngBitGenerator compiles in seconds where threefry takes minutes
# for a model's many initializers on CPU, and gives the same numbers however the output is sharded.
PRNG_IMPL = "rbg"


def mesh_shape(data: int, fsdp: int, device_count: int) -> tuple[int, int]:
    """Resolve a ``-1`` entry to the remaining devices and check the product is the device count."""
    if data == -1:
        data = device_count // fsdp
    if fsdp == -1:
        fsdp = device_count // data
    if data * fsdp != device_count:
        raise ConfigError(f"mesh data={data} x fsdp={fsdp} does not use the {device_count} devices "
                          "(set one of mesh.data / mesh.fsdp to -1 to fill the rest)")
    return data, fsdp


def make_mesh(data: int, fsdp: int, batch_sizes: dict[str, int] | None = None) -> jax.sharding.Mesh:
    """The mesh over every device; ``batch_sizes`` (name -> size) must split evenly over it."""
    shape = mesh_shape(data, fsdp, jax.device_count())
    devices = shape[0] * shape[1]
    for name, size in (batch_sizes or {}).items():
        if size % devices:
            fitting = max(devices, size // devices * devices)
            raise ConfigError(f"{name}={size} does not split over the {devices} devices of the mesh (data={shape[0]} x "
                              f"fsdp={shape[1]}): use a multiple of {devices} such as {fitting}, or set mesh.data "
                              "to use fewer devices")
    return jax.make_mesh(shape, AXES, axis_types=(AxisType.Auto,) * len(AXES))


def replicated(mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh) -> NamedSharding:
    """Leading (batch) axis split over every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec(BATCH_AXES))


def fsdp_spec(shape: tuple[int, ...], fsdp_size: int) -> PartitionSpec:
    if fsdp_size == 1 or int(np.prod(shape, dtype=np.int64)) < FSDP_MIN_SIZE:
        return PartitionSpec()
    candidates = [axis for axis in range(len(shape)) if shape[axis] % fsdp_size == 0]
    if not candidates:
        return PartitionSpec()
    axis = max(candidates, key=lambda a: (shape[a], a))
    return PartitionSpec(*([None] * axis + ["fsdp"]))


def state_shardings(abstract_state, mesh):
    """A sharding for every leaf of an abstract state (``jax.eval_shape`` output)."""
    fsdp_size = mesh.shape["fsdp"]
    return jax.tree_util.tree_map(lambda leaf: NamedSharding(mesh, fsdp_spec(tuple(leaf.shape), fsdp_size)),
                                  abstract_state)
