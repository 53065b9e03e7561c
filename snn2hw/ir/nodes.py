"""IR node types: small dataclasses, each with its equation in the docstring.

Shapes exclude the batch and time dimensions: a conv feature map is
``(C, H, W)``, a vector is ``(N,)``. Channel-wise parameters act on the first
dimension. Parameters are numpy arrays (float64 for float parameters, int64 for
integer ones). ``input_shape`` / ``output_shape`` are derived by
:meth:`snn2hw.ir.graph.Graph.infer_shapes` and are not stored in files.

A synaptic node (``Dense``, ``Conv2d``) carries its float weights and, after
quantization, ``weight_int`` plus ``weight_exp``:
``a = shift(weight_int (*) x, weight_exp)`` with ``shift(y, e) = y << e`` for
``e >= 0`` and a floor shift ``y >> -e`` otherwise (Lava's Dense). A neuron
carries its float model and, after quantization, Loihi CUBA integer
parameters (see :class:`Neuron`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import numpy as np

Shape = tuple


def _pair(v) -> tuple:
    if isinstance(v, (tuple, list, np.ndarray)):
        v = tuple(int(i) for i in v)
        return v if len(v) == 2 else (v[0], v[0])
    return (int(v), int(v))


def _int_array(field_name: str, v) -> np.ndarray:
    """``v`` as int64, refusing values that are not integers (a float never turns into an integer silently)."""
    a = np.asarray(v)
    if a.dtype.kind in "fc":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise ValueError(f"{field_name} must hold integers, got non-integer values")
        if a.size and np.max(np.abs(a)) >= 2.0**63:
            raise ValueError(f"{field_name} has values beyond int64")
    elif a.dtype.kind not in "biu":
        raise ValueError(f"{field_name} must be an integer array, got dtype {a.dtype}")
    return a.astype(np.int64)


def _conv_out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@dataclass(eq=False)
class Node:
    """Base class. ``metadata`` is a free-form dict kept through passes and files."""

    metadata: dict = field(default_factory=dict, kw_only=True)
    input_shape: Optional[tuple] = field(default=None, init=False, repr=False, compare=False)
    output_shape: Optional[tuple] = field(default=None, init=False, repr=False, compare=False)

    kind: ClassVar[str] = "node"
    #: number of inputs: an int, or None for "one or more" (Add: two or more)
    arity: ClassVar[Optional[int]] = 1

    def infer(self, in_shapes: list) -> tuple:
        """Output shape from the input shapes (raises ValueError with a reason)."""
        return tuple(in_shapes[0])

    def check(self) -> list:
        """Problems with the node's own parameters (no graph context)."""
        return []

    def params(self) -> dict:
        """Init fields as a dict (the serialisable state)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}


#: parameters beyond the float32 range cannot come from a trained (float32) model; they are a corrupt
#: file or an overflow, and would overflow float64 arithmetic (squares) in quantization
FLOAT_PARAM_MAX = float(np.finfo(np.float32).max)


def _finite_problems(name: str, arr) -> list:
    if arr is None:
        return []
    a = np.asarray(arr)
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        return [f"{name} contains {int(np.sum(~np.isfinite(a)))} NaN/Inf value(s)"]
    if a.dtype.kind == "f" and a.size and float(np.max(np.abs(a))) > FLOAT_PARAM_MAX:
        return [f"{name} holds values up to {float(np.max(np.abs(a))):.3g} in magnitude, beyond the float32 "
                f"range ({FLOAT_PARAM_MAX:.3g}); the file is corrupt or the model overflowed"]
    return []


@dataclass(eq=False)
class Input(Node):
    """Graph input, one analog or spike frame per timestep.

    ``x[t]`` of shape ``shape``. For the integer network the input is the
    integer ``x_int[t] = clip(round(x[t] / step), lo, hi)`` sent as a graded
    payload (``bits`` wide, unsigned if ``signed`` is False); ``step`` is set
    by quantization (or known in advance, e.g. 1/16 for the digits data).
    """

    shape: tuple = ()
    step: Optional[float] = None
    bits: Optional[int] = None
    signed: bool = False

    kind: ClassVar[str] = "input"
    arity: ClassVar[Optional[int]] = 0

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)

    def infer(self, in_shapes):
        return self.shape

    def check(self):
        p = []
        if not self.shape or any(s <= 0 for s in self.shape):
            p.append(f"shape {self.shape} must be non-empty with positive sizes")
        if self.step is not None and not (math.isfinite(self.step) and self.step > 0):
            p.append(f"step {self.step} must be a positive finite number")
        return p

    def int_range(self) -> tuple:
        b = self.bits or 8
        return (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if self.signed else (0, 2**b - 1)


@dataclass(eq=False)
class _Synapse(Node):
    """Shared fields of Dense and Conv2d."""

    weight: np.ndarray = None
    bias: Optional[np.ndarray] = None
    #: unstructured pruning mask (1 keeps, 0 removes), same shape as weight
    mask: Optional[np.ndarray] = None
    #: per-output-channel scale kappa: effective weight = kappa[f] * weight[f] (ReScaW, QP-SNN)
    channel_scale: Optional[np.ndarray] = None
    weight_int: Optional[np.ndarray] = None
    weight_exp: int = 0

    def __post_init__(self):
        self.weight = np.asarray(self.weight, dtype=np.float64)
        for name in ("bias", "channel_scale"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, np.asarray(v, dtype=np.float64))
        if self.mask is not None:
            self.mask = np.asarray(self.mask).astype(bool)
        if self.weight_int is not None:
            self.weight_int = _int_array("weight_int", self.weight_int)
        self.weight_exp = int(self.weight_exp)

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    def effective_weight(self) -> np.ndarray:
        """Float weight as applied: mask and channel scale included."""
        w = self.weight
        if self.mask is not None:
            w = w * self.mask
        if self.channel_scale is not None:
            w = w * self.channel_scale.reshape((-1,) + (1,) * (w.ndim - 1))
        return w

    @property
    def quantized(self) -> bool:
        return self.weight_int is not None

    def _check_common(self, ndim: int) -> list:
        p = []
        if self.weight.ndim != ndim:
            p.append(f"weight has {self.weight.ndim} dimensions, expected {ndim}")
            return p
        if self.weight.size == 0:
            p.append("weight is empty")
        p += _finite_problems("weight", self.weight)
        n = self.weight.shape[0]
        for name in ("bias", "channel_scale"):
            v = getattr(self, name)
            if v is not None:
                if v.shape != (n,):
                    p.append(f"{name} has shape {v.shape}, expected ({n},)")
                p += _finite_problems(name, v)
        if self.mask is not None and self.mask.shape != self.weight.shape:
            p.append(f"mask has shape {self.mask.shape}, expected the weight shape {self.weight.shape}")
        if self.weight_int is not None and self.weight_int.shape != self.weight.shape:
            p.append(f"weight_int has shape {self.weight_int.shape}, expected {self.weight.shape}")
        return p


@dataclass(eq=False)
class Dense(_Synapse):
    """Fully connected synapses: ``I = W x + b``, ``W`` of shape (out, in)."""

    kind: ClassVar[str] = "dense"

    def infer(self, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 1:
            raise ValueError(f"expects a vector input, got shape {shape} (insert a Flatten)")
        if shape[0] != self.weight.shape[1]:
            raise ValueError(f"weight expects {self.weight.shape[1]} inputs, got {shape[0]}")
        return (int(self.weight.shape[0]),)

    def check(self):
        return self._check_common(2)


@dataclass(eq=False)
class Conv2d(_Synapse):
    """2-D convolution (cross-correlation, torch semantics) on ``(C, H, W)``:

    ``I[f, y, x] = b[f] + sum_{c, i, j} W[f, c, i, j] * X[g(f)*Cg + c, s_y*y + d_y*i - p_y, s_x*x + d_x*j - p_x]``
    with zero padding, ``W`` of shape (C_out, C_in / groups, kH, kW).
    """

    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1

    kind: ClassVar[str] = "conv2d"

    def __post_init__(self):
        super().__post_init__()
        self.stride, self.padding, self.dilation = _pair(self.stride), _pair(self.padding), _pair(self.dilation)
        self.groups = int(self.groups)

    def infer(self, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 3:
            raise ValueError(f"expects a (C, H, W) input, got shape {shape}")
        c, h, w = shape
        if c != self.weight.shape[1] * self.groups:
            raise ValueError(f"weight expects {self.weight.shape[1] * self.groups} input channels, got {c}")
        kh, kw = self.weight.shape[2:]
        ho = _conv_out(h, kh, self.stride[0], self.padding[0], self.dilation[0])
        wo = _conv_out(w, kw, self.stride[1], self.padding[1], self.dilation[1])
        if ho <= 0 or wo <= 0:
            raise ValueError(f"output size ({ho}, {wo}) is not positive for input {shape}")
        return (int(self.weight.shape[0]), ho, wo)

    def check(self):
        p = self._check_common(4)
        if any(s <= 0 for s in self.stride) or any(d <= 0 for d in self.dilation):
            p.append(f"stride {self.stride} and dilation {self.dilation} must be positive")
        if any(q < 0 for q in self.padding):
            p.append(f"padding {self.padding} must be non-negative")
        if self.groups <= 0 or (self.weight.ndim == 4 and self.weight.shape[0] % self.groups):
            p.append(f"groups {self.groups} must be positive and divide C_out")
        return p


@dataclass(eq=False)
class _Pool(Node):
    kernel_size: tuple = (2, 2)
    stride: Optional[tuple] = None
    padding: tuple = (0, 0)

    def __post_init__(self):
        self.kernel_size = _pair(self.kernel_size)
        self.stride = self.kernel_size if self.stride is None else _pair(self.stride)
        self.padding = _pair(self.padding)

    def infer(self, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 3:
            raise ValueError(f"expects a (C, H, W) input, got shape {shape}")
        c, h, w = shape
        ho = _conv_out(h, self.kernel_size[0], self.stride[0], self.padding[0])
        wo = _conv_out(w, self.kernel_size[1], self.stride[1], self.padding[1])
        if ho <= 0 or wo <= 0:
            raise ValueError(f"output size ({ho}, {wo}) is not positive for input {shape}")
        return (c, ho, wo)

    def check(self):
        p = []
        if any(k <= 0 for k in self.kernel_size) or any(s <= 0 for s in self.stride):
            p.append(f"kernel_size {self.kernel_size} and stride {self.stride} must be positive")
        if any(q < 0 for q in self.padding):
            p.append(f"padding {self.padding} must be non-negative")
        elif any(2 * q > k for q, k in zip(self.padding, self.kernel_size)):
            p.append(f"padding {self.padding} must be at most half the kernel size {self.kernel_size} "
                     f"(as torch pooling, which the reference simulator uses, requires)")
        return p


@dataclass(eq=False)
class SumPool2d(_Pool):
    """Sum pooling: ``y[c, i, j] = sum_{a < kH, b < kW} x[c, s_y*i + a - p_y, s_x*j + b - p_x]`` (zero padding)."""

    kind: ClassVar[str] = "sumpool2d"


@dataclass(eq=False)
class AvgPool2d(_Pool):
    """Average pooling, ``SumPool2d / (kH * kW)`` (padding counted, torch's default). Lowered before quantization."""

    kind: ClassVar[str] = "avgpool2d"


@dataclass(eq=False)
class BatchNorm(Node):
    """Per-channel affine (inference BatchNorm), channel = first dimension:

    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``. Folded away before quantization.
    """

    gamma: np.ndarray = None
    beta: np.ndarray = None
    mean: np.ndarray = None
    var: np.ndarray = None
    eps: float = 1e-5

    kind: ClassVar[str] = "batchnorm"

    def __post_init__(self):
        for n in ("gamma", "beta", "mean", "var"):
            setattr(self, n, np.asarray(getattr(self, n), dtype=np.float64))
        self.eps = float(self.eps)

    def scale_shift(self) -> tuple:
        """``(a, c)`` with ``y = a * x + c`` per channel."""
        a = self.gamma / np.sqrt(self.var + self.eps)
        return a, self.beta - a * self.mean

    def infer(self, in_shapes):
        (shape,) = in_shapes
        if shape[0] != self.gamma.shape[0]:
            raise ValueError(f"has {self.gamma.shape[0]} channels, input has {shape[0]}")
        return tuple(shape)

    def check(self):
        p = []
        n = self.gamma.shape
        for name in ("beta", "mean", "var"):
            if getattr(self, name).shape != n:
                p.append(f"{name} has shape {getattr(self, name).shape}, expected {n}")
        for name in ("gamma", "beta", "mean", "var"):
            p += _finite_problems(name, getattr(self, name))
        if np.any(self.var + self.eps <= 0):
            p.append("var + eps must be positive")
        return p


@dataclass(eq=False)
class Flatten(Node):
    """Flatten ``(C, H, W)`` to ``(C*H*W,)`` in C-major (torch) order."""

    kind: ClassVar[str] = "flatten"

    def infer(self, in_shapes):
        return (int(np.prod(in_shapes[0])),)


@dataclass(eq=False)
class Add(Node):
    """Sum of two or more inputs of equal shape (residual connections): ``y = sum_i x_i``.

    Inputs are synaptic currents. In the integer network every input path
    arrives with the same delay (shorter paths are delayed to match).
    """

    kind: ClassVar[str] = "add"
    arity: ClassVar[Optional[int]] = None

    def infer(self, in_shapes):
        if len(in_shapes) < 2:
            raise ValueError(f"needs at least 2 inputs, got {len(in_shapes)}")
        if any(tuple(s) != tuple(in_shapes[0]) for s in in_shapes):
            raise ValueError(f"input shapes differ: {[tuple(s) for s in in_shapes]}")
        return tuple(in_shapes[0])


NEURON_MODELS = ("if", "lif", "cuba", "atlif")


@dataclass(eq=False)
class Neuron(Node):
    r"""A population of spiking neurons, one per element of its input.

    Float model (training semantics, ``I[t]`` the input current, ``v`` starts at 0)::

        i[t] = alpha * i[t-1] + input_gain * I[t]          (cuba; otherwise alpha = 0)
        v[t] = beta * v~[t-1] + i[t]
        s[t] = v[t] >= threshold   (compare='ge')   or   v[t] > threshold   ('gt')
        v~[t] = v[t] * (1 - s[t])  (reset='zero')   or   v[t] - threshold * s[t]  ('subtract')
        out[t] = output_scale * s[t]

    ``if`` is beta = 1; ``atlif`` is AT-LIF (output_scale = theta before folding).
    ``readout=True`` never fires: its membrane ``v`` is the network's output.
    ``threshold`` is a float or a per-channel array.

    Integer model after quantization (Loihi CUBA as Lava fixed_pt implements it;
    ``a`` the integer synaptic input, all state in the x64 scale)::

        u = wrap24(trunc0(u * (4095 - du) / 4096) + (a << 6))
        v = clip(trunc0(v * (4096 - dv) / 4096) + u + (bias_mant << bias_exp), +-(2^23 - 1))
        s = v > (vth << 6);  v[s] = 0
    """

    model: str = "lif"
    beta: float = 1.0
    alpha: float = 0.0
    threshold: Any = 1.0
    reset: str = "zero"
    compare: str = "ge"
    output_scale: float = 1.0
    input_gain: float = 1.0
    readout: bool = False
    # integer (Loihi CUBA) parameters, set by quantization
    du: Optional[int] = None
    dv: Optional[int] = None
    vth: Optional[np.ndarray] = None
    bias_mant: Optional[np.ndarray] = None
    bias_exp: int = 6
    int_reset: str = "zero"
    int_compare: str = "gt"

    kind: ClassVar[str] = "neuron"

    def __post_init__(self):
        self.beta, self.alpha = float(self.beta), float(self.alpha)
        self.output_scale, self.input_gain = float(self.output_scale), float(self.input_gain)
        if isinstance(self.threshold, (list, tuple, np.ndarray)):
            self.threshold = np.asarray(self.threshold, dtype=np.float64)
        else:
            self.threshold = float(self.threshold)
        if self.vth is not None:
            self.vth = _int_array("vth", self.vth)
        if self.bias_mant is not None:
            self.bias_mant = _int_array("bias_mant", self.bias_mant)
        self.readout = bool(self.readout)

    @property
    def quantized(self) -> bool:
        return self.vth is not None

    def threshold_array(self, channels: int) -> np.ndarray:
        t = np.asarray(self.threshold, dtype=np.float64)
        return np.broadcast_to(t, (channels,)).copy() if t.ndim == 0 else t

    def check(self):
        p = []
        if self.model not in NEURON_MODELS:
            p.append(f"model '{self.model}' is not one of {NEURON_MODELS}")
        if self.reset not in ("zero", "subtract") or self.int_reset not in ("zero", "subtract"):
            p.append(f"reset '{self.reset}' / '{self.int_reset}' must be 'zero' or 'subtract'")
        if self.compare not in ("ge", "gt") or self.int_compare not in ("ge", "gt"):
            p.append(f"compare '{self.compare}' / '{self.int_compare}' must be 'ge' or 'gt'")
        if not (0.0 <= self.beta <= 1.0) or not (0.0 <= self.alpha <= 1.0):
            p.append(f"beta {self.beta} and alpha {self.alpha} must lie in [0, 1]")
        th = np.asarray(self.threshold, dtype=np.float64)
        if not self.readout:
            if np.any(np.isnan(th)) or np.any(th <= 0):
                p.append(f"threshold must be positive, got min {np.min(th) if th.size else th}")
            elif np.any(~np.isfinite(th)):
                p.append("threshold must be finite (use readout=True for a non-firing integrator)")
        for name in ("output_scale", "input_gain"):
            v = getattr(self, name)
            if not math.isfinite(v):
                p.append(f"{name} must be finite, got {v}")
        if self.output_scale <= 0:
            p.append(f"output_scale must be positive, got {self.output_scale}")
        return p

    def infer(self, in_shapes):
        (shape,) = in_shapes
        th = np.asarray(self.threshold)
        if th.ndim == 1 and th.shape[0] != shape[0]:
            raise ValueError(f"per-channel threshold has {th.shape[0]} entries, input has {shape[0]} channels")
        return tuple(shape)


@dataclass(eq=False)
class Output(Node):
    """Graph output: the spike counts of a spiking population, or the membrane of a readout."""

    kind: ClassVar[str] = "output"


NODE_TYPES = {cls.__name__: cls for cls in (Input, Dense, Conv2d, SumPool2d, AvgPool2d, BatchNorm,
                                            Flatten, Add, Neuron, Output)}
SYNAPSES = (Dense, Conv2d)
