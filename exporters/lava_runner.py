"""Run a snn2hw Lava export (``model.net`` + ``model.lava.json``) in lava-nc 0.10.0, fixed_pt.

Reads the netx chain form and the residual form ``snn2hw-residual/2`` (one group per
synapse under ``snn2hw_synapses`` plus ``graph/json``, see ``exporters/lava.py``; ``/1`` kept them
under ``layer``): each neuron is a LIF whose ``a_in``
receives every input synapse (Lava's InPort sums all connected OutPorts); a population's
``s_out`` fans out to all synapses that read it.

Executed by the Lava interpreter (``.venv-lava/bin/python``, Python 3.10):
numpy, h5py and lava-nc only, never snn2hw or torch (lava-dl cannot be
installed there, so the lava-nc processes are built here from the netx file).

Usage::

    python lava_runner.py MODEL_DIR INPUT.npz OUTPUT.npz [MODEL_DIR INPUT.npz OUTPUT.npz ...]
        [--record | --record=spikes]

``INPUT.npz``: ``x_int`` ``[T, B, *input_shape]`` integers (the graded input
payload, ``round(x / step)``; input shapes (C, H, W) or (N,)).

The B samples run back to back in ONE Lava run of ``B * (T + L)`` steps (L =
the deepest synaptic depth): sample b's frame k is RingBuffer column
``b*(T+L) + k``, columns ``T .. T+L-1`` of each sample are zero. Every layer is
a ``LIFReset`` with ``reset_interval = T + L`` and ``reset_offset = depth + 1``
(LAVA.md §2), so each layer's state is cleared at the step the sample's first
input reaches it and samples are independent. Synapses:

* Dense: ``Dense(weights=2*W0, weight_exp=k-1)`` with ``W = W0 << k`` and
  ``|W0| <= 127`` gives ``a = W @ s`` bit for bit (LAVA.md §1). Larger weights
  (e.g. a pooling adjoint times the weight exponent) are split into signed
  base-128 digits, one such Dense per digit, all feeding the same LIF. After a
  (W, H, C) population the port is flattened and the weight columns permuted
  from torch (C, H, W) order to Lava's (W, H, C) order.
* Conv: the netx weight (C_out, C_in/g, kH, kW), a cross-correlation, becomes
  Lava's (C_out, kW, kH, C_in/g) true convolution: ``w.transpose(0, 3, 2, 1)``
  with both kernel axes flipped; stride/padding/dilation go from (H, W) to
  (W, H) order. Conv ignores weight_exp (the exporter folded it).
* Extra delay d > 0 (residual form): dense synapses become ``DelayDense(delays=d)`` with the
  same weight recipe; a conv becomes its exact sparse matrix (``conv_matrix``, rows and
  columns in Lava's (W, H, C) order) in ``DelaySparse`` processes (one per base-128 digit).

``OUTPUT.npz``: ``output`` ``[B, classes]`` int64 (spike counts over the
sample's T aligned steps, or the readout's v at its last aligned step),
``lava_steps``, ``lava_run_s``; with ``--record`` ``s{i}``, ``u{i}``, ``v{i}``
(``--record=spikes``: ``s{i}`` only) per neuron i (the manifest's ``neurons`` order) as ``[T, B, *shape]`` (shape in (C, H, W) / (N,) order) in the
aligned frame: Lava row ``b*(T+L) + k + depth`` is aligned step k of sample b.
Lava is always stopped in a ``finally``.

Recording does not use Lava's Monitor (far too slow, see ``_RECORDER_SRC``):
recorded layers are a ``LIFReset`` subclass whose fixed_pt model is Lava's
``PyLifResetModelBitAcc`` unchanged, plus a copy of u, v and spikes after each
step into memory-mapped files. Populations are flat (WHC order); Conv ports
are reshaped to (W, H, C) with Lava's virtual ReshapePorts.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

# This file sits next to snn2hw's own ``exporters/lava.py``: drop the script's directory from the
# import path so that ``import lava`` finds lava-nc, not that module.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.conv.process import Conv  # noqa: E402
from lava.proc.dense.process import Dense, DelayDense  # noqa: E402
from lava.proc.io.source import RingBuffer  # noqa: E402
from lava.proc.lif.process import LIFReset  # noqa: E402
from lava.proc.sparse.process import DelaySparse  # noqa: E402

NUM_MESSAGE_BITS = 24
DENSE_MANT_MAX = 127

# Recording. Lava's Monitor reads a Var through a RefPort in every step's management phase and
# Var.get() ships arrays element by element: recording u and v of the digits network that way made
# a 5 s run take 75 s (sink RingBuffers for spikes: 26 s). Instead, a LIFReset subclass whose model
# is Lava's own PyLifResetModelBitAcc, unchanged, plus a few lines that copy u, v and the spike
# vector after every step into np.memmap files (the models run in forked processes). Lava looks for
# a process's models in the process's module and every module of its directory, so this code is
# written to a private temporary directory and imported from there.
_RECORDER_SRC = """
import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import PyLifResetModelBitAcc
from lava.proc.lif.process import LIFReset


class RecLIFReset(LIFReset):
    def __init__(self, *, rec, **kwargs):
        super().__init__(**kwargs)
        self.proc_params["rec"] = dict(rec)     # key ('s', 'u', 'v') -> .npy path, [steps, n] int32


@implements(proc=RecLIFReset, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRecLifResetModelBitAcc(PyLifResetModelBitAcc):
    implements_process = None     # inherited from the parent; cleared so @implements may set ours

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._rec_paths = proc_params["rec"]
        self._rec = None
        self._last_s = None

    def spiking_activation(self):
        s = super().spiking_activation()
        self._last_s = s
        return s

    def run_spk(self):
        super().run_spk()
        if self._rec is None:
            self._rec = {k: np.load(p, mmap_mode="r+") for k, p in self._rec_paths.items()}
        t = self.time_step - 1
        for k, a in self._rec.items():
            if t < a.shape[0]:
                a[t] = (self._last_s if k == "s" else self.u if k == "u" else self.v).reshape(-1)
                if t == a.shape[0] - 1:
                    a.flush()
"""


def _recorder_class(tmpdir: str):
    path = os.path.join(tmpdir, "snn2hw_lava_recorder.py")
    with open(path, "w") as f:
        f.write(_RECORDER_SRC)
    import importlib.util
    spec = importlib.util.spec_from_file_location("snn2hw_lava_recorder", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["snn2hw_lava_recorder"] = mod
    spec.loader.exec_module(mod)
    return mod.RecLIFReset


def _s(ds) -> str:
    v = np.asarray(ds[()]).reshape(-1)[0]
    return v.decode() if isinstance(v, bytes) else str(v)


def _i(ds) -> int:
    return int(np.asarray(ds[()]).reshape(-1)[0])


def _pair(ds) -> tuple:
    v = np.asarray(ds[()]).reshape(-1).astype(int)
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _lava_shape(chw: tuple) -> tuple:
    return tuple(reversed(chw)) if len(chw) == 3 else tuple(chw)


def _to_chw(a: np.ndarray, chw: tuple) -> np.ndarray:
    """``[..., *lava_shape]`` to ``[..., *chw]``."""
    if len(chw) != 3:
        return a
    n = a.ndim
    return np.transpose(a, tuple(range(n - 3)) + (n - 1, n - 2, n - 3))


def dense_parts(w: np.ndarray) -> list:
    """``[(W0, k), ...]`` with ``W = sum W0 << k`` and ``|W0| <= 127``: one part (``W = W0 << k``) when
    possible, else signed base-128 digits, one Lava Dense each, all into the same LIF (its InPort sums
    them as int32, which is the int32 wrap of the whole sum)."""
    w = np.asarray(w, dtype=np.int64)
    for k in range(0, 31):
        if np.any(w % (1 << k)):
            break
        if np.abs(w >> k).max(initial=0) <= DENSE_MANT_MAX:
            return [(w >> k, k)]
    parts, r, k = [], w.copy(), 0
    while np.any(r):
        d = ((r + 64) % 128) - 64                       # in [-64, 63]
        if np.any(d):
            parts.append((d, k))
        r = (r - d) >> 7
        k += 7
    return parts


def conv_matrix(w: np.ndarray, in_chw: tuple, out_chw: tuple, stride, padding, dilation, groups: int):
    """The exact sparse matrix (rows: output, columns: input, both flat in Lava's (W, H, C) order) of the
    cross-correlation ``w`` (C_out, C_in/g, kH, kW) with (H, W)-ordered stride/padding/dilation.
    Returns ``(rows, cols, vals)`` (no duplicates)."""
    cin, hi, wi = in_chw
    cout, ho, wo = out_chw
    cg, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    per_group = cout // groups
    oy, ox = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
    rows, cols, vals = [], [], []
    for co in range(cout):
        g = co // per_group
        for cl in range(cg):
            ci = g * cg + cl
            for i in range(kh):
                for j in range(kw):
                    v = int(w[co, cl, i, j])
                    if v == 0:
                        continue
                    iy = oy * stride[0] - padding[0] + i * dilation[0]
                    ix = ox * stride[1] - padding[1] + j * dilation[1]
                    ok = (iy >= 0) & (iy < hi) & (ix >= 0) & (ix < wi)
                    rows.append(((ox[ok] * ho + oy[ok]) * cout + co).ravel())
                    cols.append(((ix[ok] * hi + iy[ok]) * cin + ci).ravel())
                    vals.append(np.full(int(ok.sum()), v, dtype=np.int64))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _read_synapse(g, in_chw: tuple) -> dict:
    kind = _s(g["type"])
    syn = {"kind": kind, "w": np.asarray(g["weight"][()]).astype(np.int64), "in_chw": tuple(in_chw),
           "out_chw": tuple(int(v) for v in np.asarray(g["shape"][()]).reshape(-1))}
    if kind == "conv":
        syn.update(stride=_pair(g["stride"]), padding=_pair(g["padding"]), dilation=_pair(g["dilation"]),
                   groups=_i(g["groups"]))
    elif kind != "dense":
        raise ValueError(f"layer type {kind!r} is not supported by this runner")
    return syn


def _read_neuron(g, name: str, depth: int, out_chw: tuple, readout: bool) -> dict:
    ng = g["neuron"]
    bias = np.asarray(g["bias"][()]).astype(np.int64).reshape(-1) if "bias" in g else np.zeros(1, np.int64)
    oshape = _lava_shape(out_chw)
    if len(out_chw) == 3 and bias.size == int(np.prod(out_chw)) and bias.size != out_chw[0]:
        bias = np.transpose(bias.reshape(out_chw), (2, 1, 0)).copy()   # per neuron, CHW -> WHC
    else:
        bias = np.broadcast_to(bias, oshape).copy()    # per channel (C is last in Lava) / per neuron
    return {"name": name, "depth": depth, "chw": tuple(out_chw), "readout": readout,
            "du": _i(ng["iDecay"]) - 1, "dv": _i(ng["vDecay"]), "vth": _i(ng["vThMant"]),
            "bias": bias.reshape(-1), "bias_exp": _i(ng["snn2hwBiasExp"]) if "snn2hwBiasExp" in ng else 6}


def read_model(h, manifest: dict) -> tuple:
    """``(input name, neurons, synapses)`` from an open ``model.net``: netx chain or residual form."""
    groups = {k: h["layer"][k] for k in h["layer"].keys()}
    if _s(groups["0"]["type"]) != "input":
        raise ValueError("layer 0 must be the input layer")
    in_chw = tuple(manifest["input"]["shape"])
    inp = manifest["input"].get("name", "input")
    neurons, synapses = [], []
    if "graph" in h:                                      # residual form (snn2hw-residual/1 or /2)
        desc = json.loads(np.asarray(h["graph"]["json"][()]).reshape(-1)[0])
        if "snn2hw_synapses" in h:                        # /2: synapse groups outside netx's layer chain
            groups = {k: h["snn2hw_synapses"][k] for k in h["snn2hw_synapses"].keys()}
        shapes = {desc["input"]: in_chw}
        for n in desc["neurons"]:
            shapes[n["name"]] = tuple(n["shape"])
        for n in desc["neurons"]:
            neurons.append(_read_neuron(groups[n["layer"]], n["name"], int(n["depth"]), tuple(n["shape"]),
                                        bool(n["readout"])))
            for e in n["inputs"]:
                syn = _read_synapse(groups[e["layer"]], shapes[e["source"]])
                if syn["out_chw"] != tuple(n["shape"]) and syn["kind"] == "conv":
                    raise ValueError(f"synapse {e['synapse']}: shape {syn['out_chw']} != neuron {n['shape']}")
                syn.update(source=e["source"], target=n["name"], delay=int(e["delay"]), name=e["synapse"])
                synapses.append(syn)
        return desc["input"], neurons, synapses
    # netx chain: input, then conv / dense layers (a flatten layer before a dense after a map)
    prev, prev_chw, flatten, li = inp, in_chw, False, 0
    for k in sorted(groups, key=int)[1:]:
        g = groups[k]
        if _s(g["type"]) == "flatten":
            flatten = True
            continue
        meta = manifest["layers"][li]
        syn = _read_synapse(g, prev_chw)
        if syn["kind"] == "conv" and len(prev_chw) != 3:
            raise ValueError(f"layer {li}: conv after a vector population")
        if syn["kind"] == "dense" and len(prev_chw) == 3 and not flatten:
            raise ValueError(f"layer {li}: dense after a (C, H, W) population needs a flatten layer")
        name = meta["neuron"]
        syn.update(source=prev, target=name, delay=0, name=meta["synapse"])
        out_chw = syn["out_chw"] if syn["kind"] == "conv" else (int(syn["w"].shape[0]),)
        neurons.append(_read_neuron(g, name, _i(g["snn2hwDepth"]), out_chw, bool(meta["readout"])))
        synapses.append(syn)
        prev, prev_chw, flatten, li = name, out_chw, False, li + 1
    if li != len(manifest["layers"]):
        raise ValueError(f"model.net has {li} synapse layers, the manifest {len(manifest['layers'])}")
    return inp, neurons, synapses


def _make_synapse(syn: dict, port, tag: str) -> list:
    """Lava connection processes for one synapse, ``port`` (flat, WHC) connected to their s_in.
    Returns the list of processes (their a_out are flat, WHC)."""
    kind, w, in_chw, d = syn["kind"], syn["w"], syn["in_chw"], syn["delay"]
    if kind == "conv" and d == 0:
        wl = np.ascontiguousarray(w.transpose(0, 3, 2, 1)[:, ::-1, ::-1, :]).astype(np.int32)
        (sy, sx), (py_, px), (dy, dx) = syn["stride"], syn["padding"], syn["dilation"]
        p = Conv(weight=wl, input_shape=_lava_shape(in_chw), padding=(px, py_), stride=(sx, sy),
                 dilation=(dx, dy), groups=syn["groups"], num_message_bits=NUM_MESSAGE_BITS, name=f"conv{tag}")
        if tuple(p.output_shape) != _lava_shape(syn["out_chw"]):
            raise ValueError(f"{tag}: Lava conv output {p.output_shape} != {_lava_shape(syn['out_chw'])}")
        port.reshape(_lava_shape(in_chw)).connect(p.s_in)
        return [(p, p.a_out.reshape((int(np.prod(syn["out_chw"])),)))]
    if kind == "conv":
        # a delayed conv: its exact sparse matrix in a DelaySparse (Lava's Conv has no delay)
        from scipy.sparse import csr_matrix
        n_out, n_in = int(np.prod(syn["out_chw"])), int(np.prod(in_chw))
        r, c, v = conv_matrix(w, in_chw, syn["out_chw"], syn["stride"], syn["padding"], syn["dilation"],
                              syn["groups"])
        procs = []
        for j, (v0, k) in enumerate(dense_parts(v) if v.size else []):
            nz = v0 != 0
            wm = csr_matrix(((2 * v0[nz]).astype(np.int32), (r[nz], c[nz])), shape=(n_out, n_in))
            dm = csr_matrix((np.full(int(nz.sum()), d, dtype=np.int64), (r[nz], c[nz])), shape=(n_out, n_in))
            p = DelaySparse(weights=wm, delays=dm, max_delay=d, weight_exp=k - 1,
                            num_message_bits=NUM_MESSAGE_BITS, name=f"dsparse{tag}_{j}")
            port.connect(p.s_in)
            procs.append((p, p.a_out))
        return procs
    if len(in_chw) == 3:     # torch flatten (C, H, W) order -> Lava (W, H, C) order
        c, hh, ww = in_chw
        w = w.reshape(w.shape[0], c, hh, ww).transpose(0, 3, 2, 1).reshape(w.shape[0], -1)
    procs = []
    for j, (w0, k) in enumerate(dense_parts(w) or [(np.zeros_like(w), 0)]):
        if d == 0:
            p = Dense(weights=(2 * w0).astype(np.int32), weight_exp=k - 1, num_message_bits=NUM_MESSAGE_BITS,
                      name=f"dense{tag}_{j}")
        else:
            p = DelayDense(weights=(2 * w0).astype(np.int32), delays=d, max_delay=d, weight_exp=k - 1,
                           num_message_bits=NUM_MESSAGE_BITS, name=f"ddense{tag}_{j}")
        port.connect(p.s_in)
        procs.append((p, p.a_out))
    return procs


def build(model_dir: str, T: int, B: int, x: np.ndarray, record, tmpdir: str):
    with open(os.path.join(model_dir, "model.lava.json")) as f:
        manifest = json.load(f)
    L = int(manifest["num_synapse_layers"])
    R = T + L
    steps = B * R
    h = h5py.File(os.path.join(model_dir, "model.net"), "r")
    try:
        inp, neurons, synapses = read_model(h, manifest)
    finally:
        h.close()
    in_chw = tuple(manifest["input"]["shape"])
    if tuple(x.shape[2:]) != in_chw:
        raise ValueError(f"input has per-sample shape {tuple(x.shape[2:])}, the model expects {in_chw}")
    lshape = _lava_shape(in_chw)
    data = np.zeros((int(np.prod(lshape)), steps), dtype=np.int32)     # populations are flat, WHC order
    for b in range(B):
        xb = x[:, b]
        xb = np.transpose(xb, (3, 2, 1, 0)) if len(in_chw) == 3 else xb.T
        data[:, b * R:b * R + T] = xb.reshape(-1, T)
    src = RingBuffer(data=data)
    ports = {inp: src.s_out}
    out_name = manifest["output"]["neuron"]
    RecLIFReset = _recorder_class(tmpdir)
    layers, lifs = [], {}
    for li, n in enumerate(neurons):
        n_out = int(np.prod(n["chw"]))
        wanted = set()
        if record:
            wanted |= {"s"} | ({"u", "v"} if record == "all" else set())
        if n["name"] == out_name:
            wanted.add("v" if n["readout"] else "s")
        rec = {}
        for key in sorted(wanted):
            rec[key] = os.path.join(tmpdir, f"rec_{li}_{key}.npy")
            np.lib.format.open_memmap(rec[key], mode="w+", dtype=np.int32, shape=(steps, n_out)).flush()
        kw = dict(shape=(n_out,), du=n["du"], dv=n["dv"], vth=n["vth"], bias_mant=n["bias"],
                  bias_exp=n["bias_exp"], reset_interval=R, reset_offset=n["depth"] + 1, name=f"lif{li}")
        lif = RecLIFReset(rec=rec, **kw) if rec else LIFReset(**kw)
        lifs[n["name"]] = lif
        ports[n["name"]] = lif.s_out
        layers.append({"lif": lif, "mons": rec, "depth": n["depth"], "chw": n["chw"], "readout": n["readout"],
                       "output": n["name"] == out_name})
    for si, syn in enumerate(synapses):
        for _, a_out in _make_synapse(syn, ports[syn["source"]], str(si)):
            a_out.connect(lifs[syn["target"]].a_in)
    return src, layers, steps, R


def run(model_dir: str, path_in: str, path_out: str, record) -> None:
    with np.load(path_in) as d:
        x = np.asarray(d["x_int"], dtype=np.int64)
    if x.ndim < 3:
        raise ValueError(f"x_int must be [T, B, *shape], got {x.shape}")
    T, B = x.shape[0], x.shape[1]
    with tempfile.TemporaryDirectory(prefix="snn2hw_lava_rec_") as tmpdir:
        src, layers, steps, R = build(model_dir, T, B, x, record, tmpdir)
        t0 = time.perf_counter()
        try:
            src.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        finally:
            src.stop()
        dt = time.perf_counter() - t0
        raw = []
        for lay in layers:       # row t - 1 = after Lava step t
            raw.append({k: np.load(p).astype(np.int64) for k, p in lay["mons"].items()})
    write_outputs(layers, raw, T, B, R, steps, dt, record, path_out, "lava")


def write_outputs(layers: list, raw: list, T: int, B: int, R: int, steps: int, dt: float, record, path_out: str,
                  label: str) -> None:
    """Align the recorded rows (``raw[i][key]``: ``[steps, n]`` of layer ``i``) by each layer's pipeline depth into
    ``[T, B, *chw]`` and save the outputs (and, when ``record``, every recorded layer) to ``path_out``; shared by
    this runner and ``lava_netx_runner``."""
    out = {}
    rows = (np.arange(B)[None, :] * R + np.arange(T)[:, None])     # [T, B] aligned row before the depth shift
    for i, (lay, r) in enumerate(zip(layers, raw)):
        for key, a in r.items():
            al = a[rows + lay["depth"]].reshape((T, B) + _lava_shape(lay["chw"]))
            al = _to_chw(al, lay["chw"])                                # [T, B, *chw]
            if record:
                out[f"{key}{i}"] = al
            if lay["output"]:
                if lay["readout"] and key == "v":
                    out["output"] = al[T - 1].reshape(B, -1)
                elif not lay["readout"] and key == "s":
                    out["output"] = al.sum(0).reshape(B, -1)
    out["lava_steps"] = np.int64(steps)
    out["lava_run_s"] = np.float64(dt)
    np.savez(path_out, **out)
    print(f"{label}: {B} samples x {R} steps = {steps} steps in {dt:.2f} s", flush=True)


def main(argv, run_one=None, usage: str | None = None) -> int:
    """``MODEL_DIR IN.npz OUT.npz [MODEL_DIR IN.npz OUT.npz ...] [--record | --record=spikes]``: each model in turn,
    in this one interpreter, through ``run_one`` (default: this runner's :func:`run`)."""
    run_one = run_one or run
    args = [a for a in argv if not a.startswith("--record")]
    rec = [a for a in argv if a.startswith("--record")]
    if not args or len(args) % 3 or len(rec) > 1 or (rec and rec[0] not in ("--record", "--record=spikes")):
        print(usage or __doc__, file=sys.stderr)
        return 2
    for j in range(0, len(args), 3):     # several models, one after the other, in this one interpreter
        run_one(args[j], args[j + 1], args[j + 2],
                record=(False if not rec else "spikes" if rec[0] == "--record=spikes" else "all"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
