"""Random float IR graphs for tests (dense MLPs, conv nets, residual nets).

Every builder takes a ``numpy.random.Generator`` and returns a valid
:class:`snn2hw.ir.Graph` whose output is a non-spiking readout neuron
(``Neuron(model='if', readout=True, threshold=inf)``) followed by ``Output``.
Shapes stay small (<= 8 channels, <= 10x10 maps) so a float simulation takes
milliseconds.

Knobs shared by the builders:

* ``models``: neuron models drawn for hidden layers (``if``, ``lif``, ``cuba``,
  ``atlif``); AT-LIF neurons get an output scale theta != 1, and any model may get
  an input gain != 1 (``gain_prob``).
* ``resets`` / ``compares``: reset modes and comparisons drawn for hidden neurons.
* ``bn``: put BatchNorm nodes (random gamma of both signs, beta, mean, var) in
  the places ``FoldBatchNormPass`` can fold (after a synapse, after an unpadded
  pool of a synapse, after an Add of synapses, on spikes before unpadded
  synapses). With ``fold_safe=False`` the generator may also emit BN that the
  pass must refuse (after a padded pool of a synapse).
* ``channel_scale_prob``: probability that a synapse gets a ReScaW channel scale
  (entries of both signs, |kappa| in [0.5, 1.5]).
* ``step``: ``Input.step`` (e.g. 1/16 for lattice inputs; None leaves it unset).

:func:`random_input` draws inputs ``[T, B, *shape]``; with ``step`` they lie on
the lattice ``k * step``. :func:`random_graph` picks one of the three kinds.
"""
from __future__ import annotations

import numpy as np

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph

MODELS = ("if", "lif", "cuba", "atlif")
KINDS = ("mlp", "conv", "residual")


# ----------------------------------------------------------------------------- parts
def random_neuron(rng, channels: int, *, models=MODELS, resets=("zero", "subtract"), compares=("ge", "gt"),
                  gain_prob: float = 0.3, per_channel_prob: float = 0.3) -> N.Neuron:
    """A hidden spiking neuron with random model and parameters."""
    model = str(rng.choice(models))
    beta, alpha, out_scale = 1.0, 0.0, 1.0
    if model == "lif":
        beta = float(rng.uniform(0.5, 0.95))
    elif model == "cuba":
        beta, alpha = float(rng.uniform(0.6, 0.95)), float(rng.uniform(0.2, 0.7))
    elif model == "atlif":
        beta = 1.0 if rng.random() < 0.5 else float(rng.uniform(0.6, 0.95))
        out_scale = float(rng.choice([rng.uniform(0.4, 0.9), rng.uniform(1.2, 2.5)]))
    if rng.random() < per_channel_prob:
        threshold = rng.uniform(0.5, 1.5, size=channels)
    else:
        threshold = float(rng.uniform(0.5, 1.5))
    gain = float(rng.uniform(0.5, 2.0)) if rng.random() < gain_prob else 1.0
    return N.Neuron(model=model, beta=beta, alpha=alpha, threshold=threshold, reset=str(rng.choice(resets)),
                    compare=str(rng.choice(compares)), output_scale=out_scale, input_gain=gain)


def readout_neuron() -> N.Neuron:
    return N.Neuron(model="if", readout=True, threshold=float("inf"))


def _kappa(rng, n: int) -> np.ndarray:
    mag = rng.uniform(0.5, 1.5, size=n)
    sign = np.where(rng.random(n) < 0.35, -1.0, 1.0)
    return mag * sign


def random_dense(rng, n_in: int, n_out: int, *, gain: float = 2.5, channel_scale_prob: float = 0.0,
                 mask_prob: float = 0.0, bias: bool = True) -> N.Dense:
    w = rng.normal(0.0, gain / np.sqrt(n_in), size=(n_out, n_in))
    b = rng.uniform(-0.1, 0.5, size=n_out) if bias else None
    cs = _kappa(rng, n_out) if rng.random() < channel_scale_prob else None
    mask = (rng.random((n_out, n_in)) < 0.8) if rng.random() < mask_prob else None
    return N.Dense(weight=w, bias=b, channel_scale=cs, mask=mask)


def conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def random_conv(rng, c_in: int, hw: tuple, c_out: int, *, gain: float = 2.5, channel_scale_prob: float = 0.0,
                mask_prob: float = 0.0, padding=None, kernel=None, stride=None, dilation=None, groups=None,
                bias: bool = True) -> N.Conv2d:
    """A Conv2d on ``(c_in, *hw)`` with random geometry whose output is at least 2x2."""
    for _ in range(100):
        k = int(kernel if kernel is not None else rng.integers(1, 4))
        s = int(stride if stride is not None else rng.integers(1, 3))
        p = int(padding if padding is not None else rng.integers(0, 2))
        d = int(dilation if dilation is not None else rng.integers(1, 3))
        g = int(groups if groups is not None else (2 if (c_in % 2 == 0 and c_out % 2 == 0 and rng.random() < 0.4)
                                                   else 1))
        if all(conv_out(x, k, s, p, d) >= 2 for x in hw):
            break
    else:  # pragma: no cover - the loop always finds a geometry for maps >= 4x4
        raise RuntimeError(f"no conv geometry for {hw}")
    fan_in = (c_in // g) * k * k
    w = rng.normal(0.0, gain / np.sqrt(fan_in), size=(c_out, c_in // g, k, k))
    b = rng.uniform(-0.1, 0.5, size=c_out) if bias else None
    cs = _kappa(rng, c_out) if rng.random() < channel_scale_prob else None
    mask = (rng.random(w.shape) < 0.8) if rng.random() < mask_prob else None
    return N.Conv2d(weight=w, bias=b, channel_scale=cs, mask=mask, stride=s, padding=p, dilation=d, groups=g)


def random_bn(rng, channels: int, *, zero_shift: bool = False) -> N.BatchNorm:
    """Inference BatchNorm with gamma of both signs (|gamma| in [0.5, 1.5])."""
    gamma = rng.uniform(0.5, 1.5, size=channels) * np.where(rng.random(channels) < 0.3, -1.0, 1.0)
    var = rng.uniform(0.3, 2.0, size=channels)
    if zero_shift:
        return N.BatchNorm(gamma=gamma, beta=np.zeros(channels), mean=np.zeros(channels), var=var)
    return N.BatchNorm(gamma=gamma, beta=rng.normal(0.3, 0.3, size=channels), mean=rng.normal(0.0, 0.3, size=channels),
                       var=var, eps=float(rng.choice([1e-5, 1e-3])))


def _pool(rng, avg_prob: float = 0.5, padding: int = 0):
    cls = N.AvgPool2d if rng.random() < avg_prob else N.SumPool2d
    k = int(rng.integers(2, 4)) if padding == 0 else 2
    return cls(kernel_size=k, stride=int(rng.integers(1, k + 1)), padding=padding)


def _pool_out(pool, hw):
    return tuple(conv_out(x, pool.kernel_size[0], pool.stride[0], pool.padding[0], 1) for x in hw)


class _Builder:
    """Appends nodes with fresh names and tracks the current (name, shape)."""

    def __init__(self, shape: tuple, step):
        self.g = Graph(metadata={"source": "tests.helpers.random_graphs"})
        self.i = 0
        self.cur = self.add("input", N.Input(shape=shape, step=step), [])
        self.shape = tuple(shape)

    def add(self, base: str, node, inputs) -> str:
        self.i += 1
        name = f"{base}{self.i}"
        self.g.add(name, node, inputs)
        return name

    def push(self, base: str, node, shape=None) -> str:
        self.cur = self.add(base, node, [self.cur])
        if shape is not None:
            self.shape = tuple(shape)
        return self.cur

    def finish(self) -> Graph:
        self.push("output", N.Output())
        self.g.validate()
        return self.g


def _readout(rng, b: _Builder, classes: int, channel_scale_prob: float, bn: bool, n_kw: dict):
    """Flatten (if needed), optional hidden Dense layer, then the Dense readout."""
    if len(b.shape) == 3:
        b.push("flatten", N.Flatten(), (int(np.prod(b.shape)),))
    if rng.random() < 0.5:
        n = int(rng.integers(4, 13))
        if bn and rng.random() < 0.3:  # BN on spikes / input before a Dense (rule 4)
            b.push("bn", random_bn(rng, b.shape[0]))
        b.push("dense", random_dense(rng, b.shape[0], n, channel_scale_prob=channel_scale_prob, mask_prob=0.2), (n,))
        if bn and rng.random() < 0.5:
            b.push("bn", random_bn(rng, n))
        b.push("neuron", random_neuron(rng, n, **n_kw))
    if bn and rng.random() < 0.2:
        b.push("bn", random_bn(rng, b.shape[0]))
    b.push("fc", random_dense(rng, b.shape[0], classes, channel_scale_prob=channel_scale_prob), (classes,))
    b.push("readout", readout_neuron())


def _neuron_kw(models, resets, compares, gain_prob):
    return dict(models=models, resets=resets, compares=compares, gain_prob=gain_prob)


# ----------------------------------------------------------------------------- graphs
def random_mlp(rng, *, models=MODELS, resets=("zero", "subtract"), compares=("ge", "gt"), gain_prob: float = 0.3,
               bn: bool = True, channel_scale_prob: float = 0.3, step=None, depth=None) -> Graph:
    """Input (n,) -> [BN] -> (Dense -> [BN] -> Neuron) x depth -> Dense -> readout -> Output."""
    n_kw = _neuron_kw(models, resets, compares, gain_prob)
    n = int(rng.integers(3, 13))
    b = _Builder((n,), step)
    for _ in range(int(depth if depth is not None else rng.integers(1, 4))):
        m = int(rng.integers(3, 13))
        if bn and rng.random() < 0.25:
            b.push("bn", random_bn(rng, b.shape[0]))
        b.push("dense", random_dense(rng, b.shape[0], m, channel_scale_prob=channel_scale_prob, mask_prob=0.2), (m,))
        if bn and rng.random() < 0.5:
            b.push("bn", random_bn(rng, m))
        b.push("neuron", random_neuron(rng, m, **n_kw))
    classes = int(rng.integers(2, 6))
    b.push("fc", random_dense(rng, b.shape[0], classes, channel_scale_prob=channel_scale_prob), (classes,))
    b.push("readout", readout_neuron())
    return b.finish()


def random_convnet(rng, *, models=MODELS, resets=("zero", "subtract"), compares=("ge", "gt"), gain_prob: float = 0.3,
                   bn: bool = True, fold_safe: bool = True, channel_scale_prob: float = 0.3, step=None,
                   layers=None) -> Graph:
    """Input (C, H, W) -> conv blocks -> Flatten -> [Dense -> Neuron] -> Dense -> readout -> Output.

    A conv block is ``[BN on spikes] -> Conv2d -> {BN | pool -> BN | pool | nothing} -> Neuron -> [pool]``
    with random stride 1-2, padding 0-1, dilation 1-2, groups 1-2; pools are AvgPool2d or SumPool2d.
    """
    n_kw = _neuron_kw(models, resets, compares, gain_prob)
    c0 = int(rng.integers(1, 5))
    hw = (int(rng.integers(6, 11)), int(rng.integers(6, 11)))
    b = _Builder((c0,) + hw, step)
    for _ in range(int(layers if layers is not None else rng.integers(1, 4))):
        c, h, w = b.shape
        if min(h, w) < 3:
            break
        c_out = int(rng.choice([2, 4, 6, 8]))
        on_spikes = isinstance(b.g.nodes[b.cur], (N.Input, N.Neuron))
        pre_bn = bn and on_spikes and rng.random() < 0.25
        if pre_bn:  # BN on spikes (or on the analog input) before an unpadded conv: rule 4
            b.push("bn", random_bn(rng, c))
        conv = random_conv(rng, c, (h, w), c_out, channel_scale_prob=channel_scale_prob, mask_prob=0.15,
                           padding=0 if pre_bn else None)
        hw = tuple(conv_out(x, conv.weight.shape[2], conv.stride[0], conv.padding[0], conv.dilation[0]) for x in (h, w))
        b.push("conv", conv, (c_out,) + hw)
        r = rng.random()
        if bn and r < 0.4:
            b.push("bn", random_bn(rng, c_out))
        elif r < 0.7 and min(hw) >= 4:
            padded = (not fold_safe) and bn and rng.random() < 0.5
            pool = _pool(rng, padding=1 if padded else 0)
            hw = _pool_out(pool, hw)
            b.push("pool", pool, (c_out,) + hw)
            if bn and (padded or rng.random() < 0.7):
                b.push("bn", random_bn(rng, c_out))
        b.push("neuron", random_neuron(rng, c_out, **n_kw))
        if rng.random() < 0.3 and min(b.shape[1:]) >= 4:
            pool = _pool(rng, padding=int(rng.random() < 0.3))
            b.push("pool", pool, (c_out,) + _pool_out(pool, b.shape[1:]))
    _readout(rng, b, int(rng.integers(2, 6)), channel_scale_prob, bn, n_kw)
    return b.finish()


def random_resnet(rng, *, models=MODELS, resets=("zero", "subtract"), compares=("ge", "gt"), gain_prob: float = 0.3,
                  bn: bool = True, channel_scale_prob: float = 0.3, step=None, blocks=None, variants=None) -> Graph:
    """Stem conv -> residual blocks -> [pool] -> Flatten -> Dense -> readout -> Output.

    Block variants (``variants`` restricts them):

    * ``identity``: conv -> [BN] -> neuron -> conv -> [BN] -> Add(., spikes of the block input) -> neuron;
    * ``identity_bn_after``: the same with the BN after the Add (foldable once an identity synapse exists);
    * ``two_conv``: Add of two conv branches of the block input, each with its own [BN];
    * ``two_conv_bn_after``: Add of two conv branches, BN after the Add (rule 3).
    """
    n_kw = _neuron_kw(models, resets, compares, gain_prob)
    variants = tuple(variants or ("identity", "identity_bn_after", "two_conv", "two_conv_bn_after"))
    c0 = int(rng.integers(1, 4))
    hw = (int(rng.integers(6, 11)), int(rng.integers(6, 11)))
    b = _Builder((c0,) + hw, step)
    c = int(rng.choice([2, 4, 6, 8]))
    b.push("conv", random_conv(rng, c0, hw, c, kernel=3, stride=1, padding=1, dilation=1,
                               channel_scale_prob=channel_scale_prob), (c,) + hw)
    if bn:
        b.push("bn", random_bn(rng, c))
    b.push("neuron", random_neuron(rng, c, **n_kw))
    for _ in range(int(blocks if blocks is not None else rng.integers(1, 3))):
        x, (c, h, w) = b.cur, b.shape
        v = str(rng.choice(variants))
        if not bn:
            v = v.replace("_bn_after", "")
        if v.startswith("identity"):
            k = int(rng.choice([1, 3]))
            conv1 = random_conv(rng, c, (h, w), c, kernel=k, stride=1, padding=k // 2, dilation=1,
                                channel_scale_prob=channel_scale_prob)
            b.push("conv", conv1)
            if bn:
                b.push("bn", random_bn(rng, c))
            b.push("neuron", random_neuron(rng, c, **n_kw))
            conv2 = random_conv(rng, c, (h, w), c, kernel=3, stride=1, padding=1, dilation=1,
                                channel_scale_prob=channel_scale_prob)
            branch = b.push("conv", conv2)
            if v == "identity" and bn and rng.random() < 0.7:
                branch = b.push("bn", random_bn(rng, c))
            inputs = [branch, x] if rng.random() < 0.5 else [x, branch]
            b.cur = b.add("add", N.Add(), inputs)
            if v == "identity_bn_after":
                b.push("bn", random_bn(rng, c))
            b.push("neuron", random_neuron(rng, c, **n_kw))
        else:
            c_out = int(rng.choice([2, 4, 6, 8]))
            conv_a = random_conv(rng, c, (h, w), c_out, channel_scale_prob=channel_scale_prob, mask_prob=0.15)
            k, s, p, d = conv_a.weight.shape[2], conv_a.stride[0], conv_a.padding[0], conv_a.dilation[0]
            if k == 3 and p == 1 and d == 1 and rng.random() < 0.5:
                conv_b = random_conv(rng, c, (h, w), c_out, kernel=1, stride=s, padding=0, dilation=1,
                                     channel_scale_prob=channel_scale_prob)
            else:
                conv_b = random_conv(rng, c, (h, w), c_out, kernel=k, stride=s, padding=p, dilation=d,
                                     channel_scale_prob=channel_scale_prob)
            hw2 = tuple(conv_out(q, k, s, p, d) for q in (h, w))
            branches = []
            for conv in (conv_a, conv_b):
                name = b.add("conv", conv, [x])
                if v == "two_conv" and bn and rng.random() < 0.7:
                    name = b.add("bn", random_bn(rng, c_out), [name])
                branches.append(name)
            b.cur = b.add("add", N.Add(), branches)
            b.shape = (c_out,) + hw2
            if v == "two_conv_bn_after":
                b.push("bn", random_bn(rng, c_out))
            b.push("neuron", random_neuron(rng, c_out, **n_kw))
    if rng.random() < 0.5 and min(b.shape[1:]) >= 4:
        pool = _pool(rng)
        b.push("pool", pool, (b.shape[0],) + _pool_out(pool, b.shape[1:]))
    _readout(rng, b, int(rng.integers(2, 6)), channel_scale_prob, bn, n_kw)
    return b.finish()


def random_graph(rng, kind=None, **kw) -> Graph:
    """One of :data:`KINDS` (random if ``kind`` is None), built with ``kw``."""
    kind = kind or str(rng.choice(KINDS))
    return {"mlp": random_mlp, "conv": random_convnet, "residual": random_resnet}[kind](rng, **kw)


def random_input(rng, graph: Graph, timesteps: int = 12, batch: int = 4, step=None, lo: float = 0.0,
                 hi: float = 1.0) -> np.ndarray:
    """Inputs ``[T, B, *shape]`` uniform in ``[lo, hi]``; on the lattice ``k * step`` when a step is given
    (``step`` defaults to the Input node's)."""
    (name,) = graph.inputs
    node = graph.nodes[name]
    step = step if step is not None else node.step
    x = rng.uniform(lo, hi, size=(timesteps, batch) + node.shape)
    if step is not None:
        x = np.round(x / step) * step
    return x
