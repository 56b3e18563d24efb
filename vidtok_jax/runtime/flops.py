"""Analytic FLOPs of any JAX function, counted from the shapes of its convolutions and matmuls.

The function is traced to a jaxpr with abstract inputs (nothing is computed or allocated), and
every `conv_general_dilated` and `dot_general` contributes 2 x its multiply-adds, read from the
operand shapes: for a convolution, output elements x kernel window x input channels per group
(divided by the input dilation, whose inserted zeros a transposed convolution skips); for a
matmul, output elements x contracted size. Element-wise and reduction work is counted separately
(one operation per output element). Calls inside `jit`, `remat`/`checkpoint`, custom derivatives,
`cond` (the costliest branch) and `scan` (times its length) are followed, so a training step's
rematerialised forward passes are counted where its backward pass runs them again.

    from vidtok_jax.runtime import flops
    counts = flops.count(model.apply, {"params": shapes}, video_shape)
    counts.total, counts.macs, counts.elementwise

This is what accelerators are rated in: the numbers are independent of how a compiler fuses or
hands convolutions to a library (XLA's own `cost_analysis` does not count convolutions that it
gives to cuDNN as custom calls, so on GPUs it undercounts).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
from jax._src.interpreters import partial_eval as pe  # dce_jaxpr: no public equivalent yet
from jax.extend import core

# primitives that move or reinterpret data without arithmetic
_NO_ARITHMETIC = {
    "broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims", "slice", "dynamic_slice",
    "dynamic_update_slice", "concatenate", "pad", "gather", "scatter", "select_n", "convert_element_type",
    "copy", "copy_p", "rev", "iota", "stop_gradient", "device_put", "sharding_constraint", "split",
    "random_bits", "random_seed", "random_wrap", "random_unwrap", "threefry2x32",
}


@dataclasses.dataclass(frozen=True)
class FlopCount:
    """FLOPs of a function: `matmul` (2 x multiply-adds of convolutions and matmuls) and `elementwise`."""

    matmul: float
    elementwise: float

    @property
    def macs(self) -> float:
        return self.matmul / 2

    @property
    def total(self) -> float:
        return self.matmul + self.elementwise

    def __add__(self, other: "FlopCount") -> "FlopCount":
        return FlopCount(self.matmul + other.matmul, self.elementwise + other.elementwise)

    def scaled(self, factor: float) -> "FlopCount":
        return FlopCount(self.matmul * factor, self.elementwise * factor)


ZERO = FlopCount(0.0, 0.0)


def _conv_macs(eqn) -> float:
    rhs, out = eqn.invars[1].aval, eqn.outvars[0].aval
    spec = eqn.params["dimension_numbers"]
    rhs_in, rhs_spatial = rhs.shape[spec.rhs_spec[1]], [rhs.shape[i] for i in spec.rhs_spec[2:]]
    dilation = math.prod(eqn.params.get("lhs_dilation") or (1,))
    return math.prod(out.shape) * rhs_in * math.prod(rhs_spatial) / dilation


def _dot_macs(eqn) -> float:
    lhs = eqn.invars[0].aval
    (lhs_contract, _), _ = eqn.params["dimension_numbers"]
    return math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs.shape[d] for d in lhs_contract)


def _calls_flops(eqn) -> FlopCount | None:
    """The FLOPs of the calls inside an equation (None if it makes none): a `cond`'s costliest branch,
    a `scan`'s body times its length, any other call once."""
    params = eqn.params
    if eqn.primitive.name == "cond":
        return max((jaxpr_flops(branch) for branch in params["branches"]), key=lambda c: c.total)
    if eqn.primitive.name == "scan":
        return jaxpr_flops(params["jaxpr"]).scaled(float(params["length"]))
    calls = [params[key] for key in ("jaxpr", "call_jaxpr", "fun_jaxpr")
             if isinstance(params.get(key), (core.Jaxpr, core.ClosedJaxpr))]
    return sum((jaxpr_flops(call) for call in calls), ZERO) if calls else None


def jaxpr_flops(jaxpr) -> FlopCount:
    """The FLOPs of a (closed) jaxpr, following calls (see the module docstring)."""
    jaxpr = jaxpr.jaxpr if isinstance(jaxpr, core.ClosedJaxpr) else jaxpr
    total = ZERO
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "conv_general_dilated":
            total += FlopCount(2 * _conv_macs(eqn), 0.0)
        elif name == "dot_general":
            total += FlopCount(2 * _dot_macs(eqn), 0.0)
        elif (calls := _calls_flops(eqn)) is not None:
            total += calls
        elif name not in _NO_ARITHMETIC:
            size = max((math.prod(v.aval.shape) for v in (*eqn.outvars, *eqn.invars) if hasattr(v.aval, "shape")),
                       default=0)
            total += FlopCount(0.0, float(size))
    return total


def count(fn: Callable, *args, **kwargs) -> FlopCount:
    """FLOPs of `fn(*args, **kwargs)`; arguments may be arrays or `jax.ShapeDtypeStruct`s (nothing runs).

    Work whose results no output uses is dropped first (dead-code elimination, as the compiler
    does), at the top level and in the calls it reaches; parts of a `cond` branch that are computed
    and then unused are still counted, so a count can exceed what runs (the VidTok training step's
    adaptive GAN weight, which needs one gradient of the decoder's last layer, counts whole pullbacks).
    """
    closed = jax.make_jaxpr(fn)(*args, **kwargs)
    jaxpr, _ = pe.dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
    return jaxpr_flops(jaxpr)
