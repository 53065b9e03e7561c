"""Run a NIR file in Sinabs through ``sinabs.from_nir`` and record every spiking layer (standalone: numpy, torch,
nir and sinabs only, so the Sinabs 3 environment, ``.venv-sinabs3``, can execute it as a script).

    python nir_sinabs_run.py model.nir x.npy out.npz

``x``: float inputs ``[T, B, ...]``. ``out.npz``: ``s:<node>`` (spike counts, Sinabs' layers emit several spikes
per step when ``v >= k theta``) and ``v:<node>`` (membrane after the reset) as ``[T, B, n]``, ``version``; or
``error`` (the exception, e.g. an importer refusing the file) with exit status 3.
"""
from __future__ import annotations

import sys

import numpy as np


def run_sinabs(ng, x: np.ndarray) -> dict:
    """``{"spikes": {node: [T, B, n]}, "v": {...}}`` of every Sinabs spiking layer imported from ``ng``. The batch
    and time dimensions are squeezed as Sinabs' ``*Squeeze`` layers expect (``[B*T, ...]``, batch-major)."""
    import sinabs
    import torch
    T, B = x.shape[0], x.shape[1]
    net = sinabs.from_nir(ng, batch_size=B, num_timesteps=T)
    san = {k.replace(".", "_"): k for k in ng.nodes}
    layers = {san.get(n, n): m for n, m in net.named_modules() if hasattr(m, "record_states") and hasattr(m, "v_mem")
              or type(m).__name__.endswith("Squeeze") and hasattr(m, "record_states")}
    out = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, k=k: out.__setitem__(k, o)) for k, m in layers.items()]
    for m in layers.values():
        m.record_states = True
    xs = torch.as_tensor(np.ascontiguousarray(np.swapaxes(x, 0, 1))).float().reshape((B * T,) + x.shape[2:])
    try:
        with torch.no_grad():
            net(xs)
    finally:
        for h in hooks:
            h.remove()
    spikes, v = {}, {}
    for k, m in layers.items():
        spikes[k] = out[k].reshape(B, T, -1).transpose(0, 1).double().numpy()
        v[k] = m.recordings["v_mem"].reshape(B, T, -1).transpose(0, 1).double().numpy()
    return {"spikes": spikes, "v": v}


def main(argv) -> int:
    import nir
    path, xpath, outpath = argv
    arrays = {}
    try:
        import sinabs
        arrays["version"] = np.array(f"sinabs {sinabs.__version__}, nir {getattr(nir, '__version__', '?')}")
        r = run_sinabs(nir.read(path), np.load(xpath))
        arrays.update({f"s:{k}": a for k, a in r["spikes"].items()})
        arrays.update({f"v:{k}": a for k, a in r["v"].items()})
        status = 0
    except Exception as e:  # noqa: BLE001 - reported to the caller, which decides
        arrays["error"] = np.array(f"{type(e).__name__}: {e}")
        status = 3
    np.savez(outpath, **arrays)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
