"""Run a snn2hw Lava export through the real lava-dl netx loader (``lava.lib.dl.netx.hdf5.Network``).

``lava_runner.py`` builds lava-nc processes itself, so it proves our runner. This script loads
``model.net`` exactly as a Loihi 2 user does, with lava-dl 0.6.0's own netx code, and runs it in
lava-nc 0.10.0 ``Loihi2SimCfg(select_tag='fixed_pt')``::

    net = hdf5.Network(net_config="model.net", input_message_bits=8,
                       reset_interval=T + L, reset_offset=1)

* ``input_message_bits=8``: our input layer has no neuron, so the first synapse reads the input
  port directly; the input is graded (``round(x / step)``, up to 8 bits), not 0/1 spikes.
  netx's default 0 makes the first synapse binary and every nonzero pixel counts as 1.
* ``reset_interval=T + L``: the B samples run back to back, each ``T`` input steps plus ``L``
  (the number of synapse layers) steps to flush the pipeline; every layer resets once per sample.
* ``reset_offset=1``: netx resets its i-th created layer at step ``reset_offset + 1 + i`` of each
  interval; with no input neuron, layer i (depth i + 1) first sees sample j at step
  ``j (T + L) + i + 2``, so the offset must be 1 (with 0 the last input frame of each sample is
  integrated after the reset, i.e. into the next sample; ``shared/reference/LAVA.md`` §2).

Usage (Lava interpreter, ``.venv-lava/bin/python``)::

    python lava_netx_runner.py MODEL_DIR INPUT.npz OUTPUT.npz [MODEL_DIR INPUT.npz OUTPUT.npz ...]
        [--record | --record=spikes]

Input and output files as for ``lava_runner.py`` (same keys, same aligned frame).

Why stubs. lava-dl 0.6.0 pins torch 2.3, which cannot live beside our environments, so the
Makefile unpacks only ``lava/lib/dl/netx`` from its wheel (no dependencies) into ``.venv-lava``.
Two imports in netx would pull torch through lava-dl's slayer:

* ``lava/lib/dl/netx/__init__.py`` imports ``sequential_modules`` (``import torch``, a torch
  bridge netx's loader never uses): the package module ``lava.lib.dl.netx`` is registered here
  as an empty package on netx's own directory, so ``hdf5``, ``blocks`` and ``utils`` import
  from their unmodified files without running ``__init__``. Lava's compiler, looking for
  process models, imports every module of a process's package (netx's ``blocks`` and the
  ``netx`` namespace): ``lava.lib.dl.netx.sequential_modules`` is registered as an empty module
  (it holds no process model) and the compiler's warning that it could not execute that file
  again is silenced.
* ``hdf5.py`` does ``from lava.lib.dl.slayer.neuron.rf import neuron_params``, used only for
  resonate-and-fire neurons (layer neuron type containing "RF"), which snn2hw never writes:
  ``lava.lib.dl.slayer``, ``.neuron`` and ``.neuron.rf`` are empty stub modules whose
  ``neuron_params`` raises.

Nothing else of netx is replaced. Outputs and probes are read with a ``LIFReset`` model that is
Lava's ``PyLifResetModelBitAcc`` unchanged plus a copy of u, v and spikes after each step
(``lava_runner._RECORDER_SRC``; Lava's Monitor is ~10x slower), selected for netx's own LIFReset
processes through ``Loihi2SimCfg(exception_proc_model_map=...)``; layers that are not recorded
copy nothing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
import types
import warnings

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import numpy as np  # noqa: E402

NETX_VERSION = "0.6.0"


def import_netx():
    """``lava.lib.dl.netx.hdf5`` from the unpacked lava-dl wheel, torch-free (see the module doc)."""
    try:
        from importlib.metadata import version
        v = version("lava-dl")
    except Exception:
        v = None
    spec = importlib.util.find_spec("lava.lib.dl.netx") if v else None
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"lava-dl {NETX_VERSION} (netx) is not installed in this Lava environment "
                         f"({sys.prefix}); run `make lava-venv`")
    if v != NETX_VERSION:
        raise SystemExit(f"lava-dl {v} found, snn2hw's netx runner is verified with {NETX_VERSION}; "
                         f"run `make lava-venv`")
    pkg = types.ModuleType("lava.lib.dl.netx")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__spec__ = spec
    sys.modules["lava.lib.dl.netx"] = pkg
    seq = types.ModuleType("lava.lib.dl.netx.sequential_modules")
    seq.__file__ = os.path.join(pkg.__path__[0], "sequential_modules.py")
    sys.modules[seq.__name__] = seq
    warnings.filterwarnings("ignore", message=r".*sequential_modules.*")
    for name in ("lava.lib.dl.slayer", "lava.lib.dl.slayer.neuron"):
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = []
            sys.modules[name] = m
    rf = types.ModuleType("lava.lib.dl.slayer.neuron.rf")

    def neuron_params(cfg):
        raise NotImplementedError("resonate-and-fire neurons need lava-dl's slayer (torch), which snn2hw's "
                                  "netx runner does not load; snn2hw never writes RF neurons")
    rf.neuron_params = neuron_params
    sys.modules.setdefault("lava.lib.dl.slayer.neuron.rf", rf)
    from lava.lib.dl.netx import hdf5
    return hdf5


def _runner_module():
    spec = importlib.util.spec_from_file_location("snn2hw_lava_runner", os.path.join(_HERE, "lava_runner.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(model_dir: str, path_in: str, path_out: str, record) -> None:
    hdf5 = import_netx()
    lr = _runner_module()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIFReset

    with open(os.path.join(model_dir, "model.lava.json")) as f:
        manifest = json.load(f)
    with np.load(path_in) as d:
        x = np.asarray(d["x_int"], dtype=np.int64)
    T, B = x.shape[0], x.shape[1]
    L = int(manifest["num_synapse_layers"])
    R = T + L
    steps = B * R
    in_chw = tuple(manifest["input"]["shape"])
    if tuple(x.shape[2:]) != in_chw:
        raise ValueError(f"input has per-sample shape {tuple(x.shape[2:])}, the model expects {in_chw}")
    out_name = manifest["output"]["neuron"]
    with tempfile.TemporaryDirectory(prefix="snn2hw_netx_rec_") as tmpdir:
        # the documented loading call, nothing else
        try:
            net = hdf5.Network(net_config=os.path.join(model_dir, "model.net"), input_message_bits=8,
                               reset_interval=R, reset_offset=1)
        except Exception as e:
            hint = (" (a snn2hw residual graph: netx cannot express it; run it with `snn2hw run-lava "
                    "--runtime ours`)" if manifest.get("residual") else "")
            raise SystemExit(f"lava-dl netx refused to load {model_dir}/model.net: {type(e).__name__}: {e}{hint}")
        if len(net.layers) != len(manifest["layers"]):
            raise ValueError(f"netx built {len(net.layers)} layers, the manifest lists {len(manifest['layers'])}")
        ishape = tuple(net.inp.shape)
        data = np.zeros((int(np.prod(ishape)), steps), dtype=np.int32)
        for b in range(B):
            xb = x[:, b]
            xb = np.transpose(xb, (3, 2, 1, 0)) if len(in_chw) == 3 else xb.T      # [T, C, H, W] -> W, H, C, T
            data[:, b * R:b * R + T] = xb.reshape(-1, T)
        src = RingBuffer(data=data.reshape(ishape + (steps,)))
        src.s_out.connect(net.inp)
        lr._recorder_class(tmpdir)
        rec_model = sys.modules["snn2hw_lava_recorder"].PyRecLifResetModelBitAcc
        layers = []
        for li, (meta, blk) in enumerate(zip(manifest["layers"], net.layers)):
            neu = blk.neuron
            if not isinstance(neu, LIFReset):
                raise ValueError(f"netx layer {li} is a {type(neu).__name__}, expected LIFReset")
            chw = tuple(meta["out_shape"])
            n = int(np.prod(chw))
            wanted = set()
            if record:
                wanted |= {"s"} | ({"u", "v"} if record == "all" else set())
            if meta["neuron"] == out_name:
                wanted.add("v" if meta["readout"] else "s")
            rec = {}
            for key in sorted(wanted):
                rec[key] = os.path.join(tmpdir, f"rec_{li}_{key}.npy")
                np.lib.format.open_memmap(rec[key], mode="w+", dtype=np.int32, shape=(steps, n)).flush()
            neu.proc_params["rec"] = rec
            layers.append({"mons": rec, "depth": int(meta["depth"]), "chw": chw, "readout": meta["readout"],
                           "output": meta["neuron"] == out_name})
        cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={LIFReset: rec_model})
        t0 = time.perf_counter()
        try:
            src.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
        finally:
            src.stop()
        dt = time.perf_counter() - t0
        raw = [{k: np.load(p).astype(np.int64) for k, p in lay["mons"].items()} for lay in layers]
    lr.write_outputs(layers, raw, T, B, R, steps, dt, record, path_out, "netx")


def main(argv) -> int:
    return _runner_module().main(argv, run_one=run, usage=__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
