"""Run a NIR file in a peer framework through that framework's own NIR importer, and compare with snn2hw.

Peers (the dev extra installs them, torch held by ``constraints.txt``):

* snnTorch 1.0.0: ``snntorch.import_nir.import_from_nir`` (float32; one sample at a time, because the
  imported ``Flatten(start_dim=0)`` also flattens the batch dimension);
* SpikingJelly 2.0.0: ``spikingjelly.activation_based.nir_exchange.import_from_nir(graph, dt=1e-4)``
  (float32 by default, ``dtype`` selectable).

Both are run one sample at a time, every population's spikes and membrane (after the reset, as the peers
keep it) recorded per step. :func:`compare` runs the snn2hw float reference simulator on the same inputs and
returns the agreement: spikes (exact), membranes (max abs difference, float32 rounding), the readout's final
membrane and the predictions.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

PEERS = ("snntorch", "spikingjelly", "norse", "sinabs", "sinabs3")
REPO = Path(__file__).resolve().parents[1]
#: the Sinabs 3 environment (``make sinabs3-venv``): nir 1.0.4, run as a subprocess
SINABS3_PYTHON = REPO / ".venv-sinabs3" / "bin" / "python"


class PeerError(RuntimeError):
    """The peer refused or failed to run the file (the message is the peer's)."""


def _nir_names(ng) -> dict:
    """torch module name -> NIR node name (nirtorch replaces '.' by '_')."""
    return {k.replace(".", "_"): k for k in ng.nodes}


def _record(keys, x, reset, step, read) -> dict:
    """Run a peer one sample at a time: per sample ``reset()``, then per step ``step(x[t, b:b + 1])`` and
    ``read(k) -> (spikes, v)`` for every neuron ``k``; ``{"spikes": {k: [T, B, n]}, "v": {...}}`` in float64."""
    T, B = x.shape[0], x.shape[1]
    rec = {k: ([], []) for k in keys}
    with torch.no_grad():
        for b in range(B):
            reset()
            steps = {k: ([], []) for k in keys}
            for t in range(T):
                step(x[t, b:b + 1])
                for k in keys:
                    for out, val in zip(steps[k], read(k)):
                        out.append(torch.as_tensor(val).detach().reshape(-1).double().clone())
            for k in keys:
                for out, seq in zip(rec[k], steps[k]):
                    out.append(torch.stack(seq))
    return {"spikes": {k: torch.stack(r[0], 1) for k, r in rec.items()},
            "v": {k: torch.stack(r[1], 1) for k, r in rec.items()}}


def _hooked(modules: dict, pick):
    """Forward hooks that keep ``pick(output)`` of each module in a dict (returned with the hooks)."""
    cur = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, k=k: cur.__setitem__(k, pick(out)))
             for k, m in modules.items()]
    return cur, hooks


def run_snntorch(ng, x) -> dict:
    """``{"spikes": {nir name: [T, B, n]}, "v": {...}}`` of every snnTorch neuron on ``x`` [T, B, ...]."""
    import snntorch as snn
    from snntorch.import_nir import import_from_nir
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # the importer prints progress lines
        net = import_from_nir(ng)
    names = _nir_names(ng)
    cells = {names.get(n, n): m for n, m in net.named_modules() if isinstance(m, snn.SpikingNeuron)}
    cur, hooks = _hooked(cells, lambda out: out[0] if isinstance(out, tuple) else out)

    def reset():
        for m in cells.values():
            m.reset_hidden()
    try:
        return _record(cells, x, reset, lambda xt: net(xt.float()), lambda k: (cur[k], cells[k].mem))
    finally:
        for h in hooks:
            h.remove()


def run_spikingjelly(ng, x, dtype=torch.float32) -> dict:
    """As :func:`run_snntorch`, through SpikingJelly's importer (``dt = 1e-4``)."""
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.nir_exchange import import_from_nir
    net = import_from_nir(ng, dt=1e-4, dtype=dtype)
    names = _nir_names(ng)
    wrappers = {names.get(n, n): m for n, m in net.named_modules() if type(m).__name__ == "_NIRStatefulModule"}
    # the wrapper returns (spikes, state); the state's first memory is v (LIFNode: (v,), CUBALIFNode: (v, c))
    cur, hooks = _hooked(wrappers, lambda out: (out[0], out[1][0]))
    state = [None]

    def reset():
        functional.reset_net(net)
        state[0] = None

    def step(xt):
        _, state[0] = net(xt.to(dtype), state[0])
    try:
        return _record(wrappers, x, reset, step, lambda k: cur[k])
    finally:
        for h in hooks:
            h.remove()


def _norse_v(state):
    """The membrane in a Norse neuron's state: ``(LIFBoxFeedForwardState,)``, ``(IAFFeedForwardState,)`` or, for
    its CubaLIF wrapper, ``((synapse state, LIF state),)``."""
    st = state[0]
    if isinstance(st, tuple) and not hasattr(st, "v"):
        st = st[1]
    return st.v


def run_norse(ng, x, dt=None) -> dict:
    """As :func:`run_snntorch`, through ``norse.torch.from_nir(graph, dt=dt)``; ``dt`` defaults to the file's
    ``metadata["dt"]`` (``--nir-target norse`` files: Norse's own default, 1e-3). One sample at a time (the
    imported ``Flatten(start_dim=0)`` also flattens the batch dimension), float32."""
    import logging
    import norse.torch as nt
    if dt is None:
        dt = float(np.asarray(ng.metadata.get("dt", 1e-3)).reshape(-1)[0])
    level = logging.root.level
    logging.root.setLevel(logging.ERROR)  # the importer logs a warning per neuron whose r != 1
    try:
        net = nt.from_nir(ng, dt=dt)
    finally:
        logging.root.setLevel(level)
    key = {v: k for k, v in {k.replace(".", "_"): k for k in ng.nodes}.items()}   # NIR name -> Norse's name
    neurons = [k for k, v in ng.nodes.items() if type(v).__name__ in ("LIF", "IF", "CubaLIF")]
    state = [None]

    def reset():
        state[0] = None

    def step(xt):
        _, state[0] = net(xt.float(), state[0])
    return _record(neurons, x, reset, step,
                   lambda k: (state[0].cache[key[k]], _norse_v(state[0].state[key[k]])))


def _as_torch(r: dict) -> dict:
    return {k: {n: torch.as_tensor(a) for n, a in d.items()} for k, d in r.items()}


def run_sinabs(ng, x) -> dict:
    """Sinabs (the installed 2.x) through ``sinabs.from_nir``, the whole batch at once (its layers squeeze
    batch and time); spikes are Sinabs' spike counts."""
    from snn2hw.exporters.nir_sinabs_run import run_sinabs as run
    return _as_torch(run(ng, np.asarray(x, dtype=np.float64)))


def run_sinabs3(path, x, timeout: float = 300) -> dict:
    """Sinabs 3.x in ``.venv-sinabs3`` (nir 1.0.4 reads the file) as a subprocess running
    ``exporters/nir_sinabs_run.py``; :class:`PeerError` with Sinabs' message when it refuses the file."""
    import subprocess
    import tempfile
    if not SINABS3_PYTHON.exists():
        raise FileNotFoundError(f"{SINABS3_PYTHON} is missing: run 'make sinabs3-venv'")
    with tempfile.TemporaryDirectory() as tmp:
        xp, op = Path(tmp) / "x.npy", Path(tmp) / "out.npz"
        np.save(xp, np.asarray(x, dtype=np.float64))
        p = subprocess.run([str(SINABS3_PYTHON), "-I", str(REPO / "exporters" / "nir_sinabs_run.py"), str(path), str(xp),
                            str(op)], capture_output=True, text=True, timeout=timeout)
        if not op.exists():
            raise PeerError(f"Sinabs 3 run failed (exit {p.returncode}): {p.stderr[-2000:]}")
        with np.load(op) as z:
            if "error" in z:
                raise PeerError(str(z["error"]))
            out = {"spikes": {k[2:]: z[k] for k in z.files if k.startswith("s:")},
                   "v": {k[2:]: z[k] for k in z.files if k.startswith("v:")}}
    return _as_torch(out)


def run_peer(peer: str, path, x, **kw) -> dict:
    import nir
    if peer == "sinabs3":  # its own nir (1.0.4) reads the file
        return run_sinabs3(path, x, **kw)
    ng = nir.read(str(path))
    if peer == "snntorch":
        return run_snntorch(ng, x)
    if peer == "spikingjelly":
        return run_spikingjelly(ng, x, **kw)
    if peer == "norse":
        return run_norse(ng, x, **kw)
    if peer == "sinabs":
        return run_sinabs(ng, x)
    raise ValueError(f"unknown peer {peer!r}; choose from {PEERS}")


def compare(graph, path, x, peer: str, **kw) -> dict:
    """Agreement of ``peer`` running the NIR file ``path`` with snn2hw's float simulation of ``graph``.

    ``graph``: the snn2hw graph the file describes (e.g. ``snn2hw.load(path)``); ``x``: float inputs
    ``[T, B, ...]``. Returns ``populations`` (compared), ``spikes_equal`` (every population, every step),
    ``spike_mismatches`` (count), ``total_spikes``, ``v_max_abs_diff`` / ``v_max_abs`` (membranes after the
    reset, every population), ``readout_max_abs_diff``, ``predictions_agree`` (fraction) and ``missing``
    (snn2hw populations the peer does not expose).
    """
    from snn2hw.ir import nodes as N
    from snn2hw.simulators.reference import simulate
    x = torch.as_tensor(x)
    r = simulate(graph, x, record=["spikes", "v"])
    theirs = run_peer(peer, path, x, **kw)
    T, B = x.shape[0], x.shape[1]
    out = {"peer": peer, "file": Path(path).name, "samples": int(B), "timesteps": int(T), "populations": [],
           "missing": [], "spike_mismatches": 0, "total_spikes": 0, "v_max_abs_diff": 0.0, "v_max_abs": 0.0}
    readout = graph.predecessors(graph.outputs[0])[0]
    for name, node in graph.nodes.items():
        if not isinstance(node, N.Neuron):
            continue
        if name not in theirs["v"]:
            out["missing"].append(name)
            continue
        out["populations"].append(name)
        s = r.record["spikes"][name].reshape(T, B, -1)
        v = r.record["v"][name].reshape(T, B, -1)
        v_after = v * (1 - s) if node.reset == "zero" else v - s * torch.as_tensor(node.threshold_array(1)[0])
        if name in theirs["spikes"]:
            out["spike_mismatches"] += int((theirs["spikes"][name] != s).sum())
            out["total_spikes"] += int(s.sum())
        d = float((theirs["v"][name] - v_after).abs().max())
        out["v_max_abs_diff"] = max(out["v_max_abs_diff"], d)
        out["v_max_abs"] = max(out["v_max_abs"], float(v_after.abs().max()))
        if name == readout:
            final = theirs["v"][name][-1]
            out["readout_max_abs_diff"] = float((final - r.output).abs().max())
            out["predictions_agree"] = float((final.argmax(1) == r.output.argmax(1)).double().mean())
    out["spikes_equal"] = out["spike_mismatches"] == 0 and not out["missing"]
    return out


def digits_inputs(graph, samples: int, timesteps: int = 4):
    """The first ``samples`` digits test samples as direct-encoded float inputs ``[T, B, ...]`` and labels."""
    from snn2hw.data import direct, load_dataset
    ds = load_dataset("digits")
    shape = graph.nodes[graph.inputs[0]].shape
    xs = np.asarray(ds.x_test[:samples]).reshape((-1,) + tuple(shape))
    return direct(torch.as_tensor(xs), timesteps), np.asarray(ds.y_test[:samples])
