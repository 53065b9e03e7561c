"""Run feed-forward dense LIF networks in Lava (lava-nc 0.10.0, fixed_pt) and record u, v, spikes.

Executed by the Lava interpreter (``.venv-lava/bin/python``): numpy and lava-nc
only, never snn2hw or torch.

Usage::

    python lava_dense_runner.py IN1.npz OUT1.npz [IN2.npz OUT2.npz ...]

Several networks per invocation amortise the interpreter and Lava import.

Input ``.npz`` (all integers):

* ``x_int``: ``[T, n_in]`` graded input payload; column ``k`` (0-based) is
  sent at Lava step ``k + 1``. When ``steps > T`` the input is padded with
  zero frames (the RingBuffer does not wrap around).
* per layer ``i`` (0, 1, ... until ``w{i}`` is missing): ``w{i}`` (out, in)
  in [-127, 127], ``weight_exp{i}`` >= 0, scalars ``du{i}``, ``dv{i}``,
  ``vth{i}``, per-neuron ``bias{i}`` (bias_mant, bias_exp = 6),
  ``reset_offset{i}``;
* ``steps`` (Lava steps to run), ``reset_interval``.

The synapse uses LAVA.md §1's exact recipe: ``Dense(weights=2*W,
weight_exp=e-1)`` gives ``a_out = (W @ s) << e`` bit for bit (2W is even and
inside every sign mode's clip range; the floor shift of an even sum is
exact). Each layer is a ``LIFReset`` (``PyLifResetModelBitAcc``).

Output ``.npz``: ``u{i}``, ``v{i}``, ``s{i}`` as ``[steps, n_i]`` int64, row
``t - 1`` holding the value after Lava step ``t`` (Monitor convention).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIFReset
from lava.proc.monitor.process import Monitor

NUM_MESSAGE_BITS = 24
BIAS_EXP = 6


def _scalar(d, key) -> int:
    return int(np.asarray(d[key]).reshape(()))


def run_network(path_in: str, path_out: str) -> float:
    d = np.load(path_in)
    x = np.asarray(d["x_int"], dtype=np.int64)
    steps = _scalar(d, "steps")
    reset_interval = _scalar(d, "reset_interval")
    n_layers = 0
    while f"w{n_layers}" in d:
        n_layers += 1
    if n_layers == 0:
        raise ValueError(f"{path_in}: no layer (w0 missing)")

    T, n_in = x.shape
    data = np.zeros((n_in, max(steps, T)), dtype=np.int32)
    data[:, :T] = x.T
    src = RingBuffer(data=data)

    prev_port = src.s_out
    lifs, monitors = [], []
    for i in range(n_layers):
        w = np.asarray(d[f"w{i}"], dtype=np.int64)
        e = _scalar(d, f"weight_exp{i}")
        if w.ndim != 2 or np.abs(w).max(initial=0) > 127 or e < 0:
            raise ValueError(f"{path_in}: layer {i}: need (out, in) weights in [-127, 127] and weight_exp >= 0")
        n_out = w.shape[0]
        dense = Dense(weights=(2 * w).astype(np.int32), weight_exp=e - 1,
                      num_message_bits=NUM_MESSAGE_BITS, name=f"dense{i}")
        bias = np.broadcast_to(np.asarray(d[f"bias{i}"], dtype=np.int64), (n_out,)).copy()
        lif = LIFReset(shape=(n_out,), du=_scalar(d, f"du{i}"), dv=_scalar(d, f"dv{i}"),
                       vth=_scalar(d, f"vth{i}"), bias_mant=bias, bias_exp=BIAS_EXP,
                       reset_interval=reset_interval, reset_offset=_scalar(d, f"reset_offset{i}"),
                       name=f"lif{i}")
        prev_port.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        prev_port = lif.s_out
        # Lava's Monitor records a single target per instance (its probe() keeps
        # the prototype port names), so one Monitor per probed quantity.
        mons = {}
        for key, target in (("u", lif.u), ("v", lif.v), ("s", lif.s_out)):
            m = Monitor()
            m.probe(target, steps)
            mons[key] = (m, target)
        lifs.append(lif)
        monitors.append(mons)

    t0 = time.perf_counter()
    out = {}
    try:
        src.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        for i, (lif, mons) in enumerate(zip(lifs, monitors)):
            for key, (m, target) in mons.items():
                rec = m.get_data()[lif.name][target.name]
                rec = np.asarray(rec)
                out[f"{key}{i}"] = np.rint(rec).astype(np.int64).reshape(steps, -1)
    finally:
        src.stop()
    np.savez(path_out, **out)
    return time.perf_counter() - t0


def main(argv) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path_in, path_out in zip(argv[::2], argv[1::2]):
        dt = run_network(path_in, path_out)
        print(f"{path_in}: {dt:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
