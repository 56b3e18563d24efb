"""Analytic FLOPs of any JAX function, counted from the shapes of its convolutions and matmuls.

The function is traced to a jaxpr with abstract inputs (nothing is computed or allocated), and
every `conv_general_dilated` and `dot_general` contributes 2 x its multiply-adds, read from the
operand shapes: for a convolution, output elements x kernel window x input channels per group
(divided by the input dilation, whose inserted zeros a transposed convolution skips); for a
matmul, output elements x contracted size. Element-wise and reduction work is counted separately
(one operation per output element). Calls inside `jit`, `remat`/`checkpoint`, custom derivatives,
`cond` (the costliest branch) and `scan` (times its length) are followed, so a training step's
rematerialised forward passes are counted where its backward pass runs them again.

    counts = vt.flops.count(model.apply, {"params": shapes}, video_shape)
    counts.total, counts.macs, counts.elementwise

This is what accelerators are rated in: the numbers are independent of how a compiler fuses or
hands convolutions to a library (XLA's own `cost_analysis` does not count convolutions that it
gives to cuDNN as custom calls, so on GPUs it undercounts).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import jax
from jax._src.interpreters import partial_eval as pe  # dce_jaxpr: no public equivalent yet
from jax.extend import core

MATMUL_PRIMITIVES = ("conv_general_dilated", "dot_general")
# primitives that move or reinterpret data without arithmetic
_NO_ARITHMETIC = {
    "broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims", "slice", "dynamic_slice",
    "dynamic_update_slice", "concatenate", "pad", "gather", "scatter", "select_n", "convert_element_type",
    "copy", "copy_p", "rev", "iota", "stop_gradient", "device_put", "sharding_constraint", "split",
    "random_bits", "random_seed", "random_wrap", "random_unwrap", "threefry2x32", "pjit", "jit",
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
    lhs, rhs = (v.aval for v in eqn.invars[:2])
    out = eqn.outvars[0].aval
    spec = eqn.params["dimension_numbers"]
    rhs_in, rhs_spatial = rhs.shape[spec.rhs_spec[1]], [rhs.shape[i] for i in spec.rhs_spec[2:]]
    dilation = math.prod(eqn.params.get("lhs_dilation") or (1,))
    del lhs
    return math.prod(out.shape) * rhs_in * math.prod(rhs_spatial) / dilation


def _dot_macs(eqn) -> float:
    lhs = eqn.invars[0].aval
    (lhs_contract, _), _ = eqn.params["dimension_numbers"]
    return math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs.shape[d] for d in lhs_contract)


def _sub_jaxprs(eqn) -> list[tuple[Any, float]]:
    """(jaxpr, how many times it runs) of the calls inside an equation."""
    params = eqn.params
    if eqn.primitive.name == "cond":
        return [(max(params["branches"], key=lambda j: jaxpr_flops(j).total), 1.0)]
    if eqn.primitive.name == "scan":
        return [(params["jaxpr"], float(params["length"]))]
    found = []
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        if key in params and isinstance(params[key], (core.Jaxpr, core.ClosedJaxpr)):
            found.append((params[key], 1.0))
    return found


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
        else:
            calls = _sub_jaxprs(eqn)
            if calls:
                for sub, times in calls:
                    total += jaxpr_flops(sub).scaled(times)
            elif name not in _NO_ARITHMETIC:
                size = max((math.prod(v.aval.shape) for v in (*eqn.outvars, *eqn.invars)
                            if hasattr(v.aval, "shape")), default=0)
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
