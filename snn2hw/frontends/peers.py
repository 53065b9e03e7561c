"""Neuron modules of peer frameworks (snnTorch, SpikingJelly) as IR neurons, exactly or not at all.

The torch.fx front end (:mod:`snn2hw.frontends.torch_fx`) keeps these modules as leaves and asks
:func:`peer_neuron` for the :class:`~snn2hw.ir.nodes.Neuron` that computes what the peer computes.
Nothing here imports a peer: modules are recognised by their class's module name, so snn2hw runs
without the peers installed.

The IR neuron (``snn2hw/ir/nodes.py``), per step ``t``::

    v[t] = beta * v~[t-1] + input_gain * I[t]        (cuba: i[t] = alpha*i[t-1] + I[t]; v[t] = beta*v~[t-1] + i[t])
    s[t] = v[t] >= threshold ('ge')  or  v[t] > threshold ('gt')
    v~[t] = v[t] * (1 - s[t])  (zero)   or   v[t] - threshold * s[t]  (subtract)

snnTorch 1.0 (``snntorch.Leaky`` / ``snntorch.Synaptic`` docstrings; https://snntorch.readthedocs.io,
"snntorch.Leaky": ``U[t+1] = βU[t] + I[t+1] - R·U_thr`` (subtract), ``U[t+1] = βU[t] + I[t+1] - R(βU[t] +
I[t+1])`` (zero), ``S = U > U_thr``; R is the spike of the previous step, the default
``reset_delay=True``). Mapping: ``beta = clamp(β, 0, 1)``, ``threshold = U_thr``, ``compare = 'gt'``,
``output_scale = graded_spikes_factor``; ``Synaptic``: ``alpha = clamp(α, 0, 1)``, model ``cuba``.

* ``Leaky``, ``reset_mechanism='zero'``: the membrane is zeroed *before* the decay and the new input
  is added (``(1 - R)·U`` then ``βU + I``) = IR ``zero``: exact, spikes and membrane (``mem`` is the
  pre-reset membrane with ``reset_delay=True``, the post-reset one with ``reset_delay=False``).
* ``Leaky``, ``'subtract'``: snnTorch subtracts ``U_thr`` *after* the decay, the IR before it
  (``β(U - θ)``): equal only for ``β = 1`` (IF), so ``β < 1`` is refused (no IR neuron computes it).
  ``reset_delay=False`` with subtract is refused (it re-subtracts when the membrane stays above θ).
* ``Synaptic``, ``'zero'`` with ``reset_delay=True`` zeroes the whole new membrane (input included) on
  the step after a spike: refused; with ``reset_delay=False`` it is IR ``cuba``/``zero`` exactly.
  ``'subtract'``: as ``Leaky`` (``β = 1`` only).
* ``reset_mechanism='none'``, ``inhibition``, ``state_quant``, per-neuron ``β``/``α`` and the
  recurrent ``RLeaky``/``RSynaptic`` (a learned feedback connection) are refused with the reason.

SpikingJelly 2.0 (``neuron.LIFNode`` docstring; https://spikingjelly.readthedocs.io, "neuron"):
``H[t] = V[t-1] + (X[t] - (V[t-1] - V_reset))/τ`` (``decay_input=True``) or ``H[t] = V[t-1] - (V[t-1] -
V_reset)/τ + X[t]``; ``S = H - V_th >= 0`` (Heaviside at 0 inclusive); hard reset ``V = H(1 - S) +
V_reset·S``, soft reset (``v_reset=None``) ``V = H - V_th·S``. ``IFNode``: ``H = V + X``;
``ParametricLIFNode``: ``1/τ = sigmoid(w)``. Mapping: ``beta = 1 - 1/τ``, ``input_gain = 1/τ``
(``decay_input``) or 1, ``threshold = V_th``, ``compare = 'ge'``, ``v_reset=0.0`` -> ``zero``,
``v_reset=None`` -> ``subtract``; any other ``v_reset`` is refused (the IR resets to 0). The membrane
is algebraically equal; the float operations differ in order (``v + (x - v)/τ`` vs ``βv + x/τ``), so
a membrane can differ in its last bit (spikes equal unless a membrane lies within that bit of V_th).
"""
from __future__ import annotations

from torch import nn

from snn2hw.errors import UnsupportedModuleError
from snn2hw.ir import nodes as N

SNNTORCH_OK = ("Leaky", "Synaptic")
SJ_OK = ("IFNode", "LIFNode", "ParametricLIFNode")
_RECURRENT = {"RLeaky": "a recurrent LIF: its spikes feed back into itself through a learned weight (V / a "
                        "recurrent Linear or Conv), which the IR (feed-forward synapse layers only) cannot hold",
              "RSynaptic": "a recurrent CUBA neuron: its spikes feed back into itself through a learned weight, "
                           "which the IR (feed-forward synapse layers only) cannot hold",
              "SLSTM": "a spiking LSTM (gated recurrent state): no IR neuron computes it",
              "SConv2dLSTM": "a spiking conv LSTM (gated recurrent state): no IR neuron computes it",
              "ElementWiseRecurrentContainer": "a recurrent container (output fed back): the IR is feed-forward",
              "LinearRecurrentContainer": "a recurrent container (output fed back through a Linear): the IR is "
                                          "feed-forward"}


def _family(m: nn.Module) -> str:
    mod = type(m).__module__
    if mod.startswith("snntorch"):
        return "snntorch"
    if mod.startswith("spikingjelly"):
        return "spikingjelly"
    return ""


def class_name(m: nn.Module) -> str:
    return f"{type(m).__module__}.{type(m).__name__}"


def refuse(path: str, m: nn.Module, reason: str) -> UnsupportedModuleError:
    """The error for a module that cannot be converted: its path, its class and why."""
    return UnsupportedModuleError(f"cannot convert '{path}' ({class_name(m)}): {reason}")


def _has_base(m: nn.Module, family: str, name: str) -> bool:
    return any(c.__name__ == name and c.__module__.startswith(family) for c in type(m).__mro__)


def is_snntorch_neuron(m: nn.Module) -> bool:
    return _family(m) == "snntorch" and _has_base(m, "snntorch", "SpikingNeuron")


def is_sj_neuron(m: nn.Module) -> bool:
    """A SpikingJelly stateful module (neurons, recurrent containers, ...): ``MemoryModule``."""
    return _family(m) == "spikingjelly" and _has_base(m, "spikingjelly", "MemoryModule")


def is_sj_step_module(m: nn.Module) -> bool:
    """A SpikingJelly ``layer.*`` wrapper or container (has ``step_mode``), stateless."""
    return _family(m) == "spikingjelly" and _has_base(m, "spikingjelly", "StepModule") and not is_sj_neuron(m)


def is_sj_container(m: nn.Module) -> bool:
    """``SeqToANNContainer`` / ``MultiStepContainer``: their children run per step, in order."""
    return _family(m) == "spikingjelly" and type(m).__name__ in ("SeqToANNContainer", "MultiStepContainer",
                                                                 "StepModeContainer")


def is_peer_leaf(m: nn.Module) -> bool:
    """Modules the tracer must not enter (their forward branches on step modes and hidden state)."""
    return is_snntorch_neuron(m) or is_sj_neuron(m) or is_sj_step_module(m)


def is_neuron(m: nn.Module) -> bool:
    return is_snntorch_neuron(m) or is_sj_neuron(m)


def step_mode(m: nn.Module) -> str:
    """'s' (one step per call, state kept in the module) or 'm' (the call takes ``[T, B, ...]``)."""
    if is_snntorch_neuron(m):
        return "s"
    return getattr(m, "step_mode", "s")


def returns_state(m: nn.Module) -> int:
    """How many state tensors a snnTorch neuron returns after its spikes (0: spikes only)."""
    if not is_snntorch_neuron(m) or (getattr(m, "init_hidden", False) and not getattr(m, "output", False)):
        return 0
    return 2 if type(m).__name__ == "Synaptic" else 1


def _scalar(path, m, name: str, t) -> float:
    import torch
    t = torch.as_tensor(t).detach()
    if t.numel() != 1 and not bool((t == t.reshape(-1)[0]).all()):
        raise refuse(path, m, f"per-neuron {name} (shape {tuple(t.shape)}); the IR holds one {name} per layer")
    return float(t.reshape(-1)[0])


def _snntorch(path: str, m: nn.Module, in_shape) -> N.Neuron:
    import torch
    cls = type(m).__name__
    if cls in _RECURRENT:
        raise refuse(path, m, _RECURRENT[cls])
    if cls not in SNNTORCH_OK:
        raise refuse(path, m, f"snnTorch neuron '{cls}' has no IR equivalent; supported: snntorch.Leaky, "
                              f"snntorch.Synaptic")
    if getattr(m, "inhibition", False):
        raise refuse(path, m, "inhibition=True (winner-take-all across the layer) has no IR equivalent")
    if getattr(m, "state_quant", False):
        raise refuse(path, m, "state_quant (a quantized membrane in the forward) has no IR equivalent; convert the "
                              "float model and let snn2hw quantize it")
    reset = {0: "subtract", 1: "zero", 2: "none"}[int(m.reset_mechanism_val)]
    delay = bool(getattr(m, "reset_delay", True))
    beta = min(max(_scalar(path, m, "beta", m.beta), 0.0), 1.0)
    if reset == "none":
        raise refuse(path, m, "reset_mechanism='none' (the membrane is never reset after a spike); the IR neuron "
                              "resets to zero or by subtraction")
    if reset == "subtract" and not delay:
        raise refuse(path, m, "reset_mechanism='subtract' with reset_delay=False subtracts the threshold again on "
                              "the next step while the membrane stays above it; use reset_delay=True (the default)")
    if reset == "subtract" and beta != 1.0:
        raise refuse(path, m, f"reset_mechanism='subtract' with beta={beta:g}: snnTorch subtracts the threshold "
                              f"after the decay (U = βU + I - R·θ), snn2hw's neurons before it (β(U - θ) + I); "
                              f"they agree only for beta = 1. Train with reset_mechanism='zero' (exact) or beta=1")
    if cls == "Synaptic" and reset == "zero" and delay:
        raise refuse(path, m, "Synaptic with reset_mechanism='zero' and reset_delay=True zeroes the whole membrane, "
                              "new input included, on the step after a spike; the IR keeps that input. Use "
                              "reset_delay=False (exact)")
    th = torch.as_tensor(m.threshold).detach().to(torch.float64)
    if th.numel() == 1:
        threshold = float(th.reshape(-1)[0])
    elif th.ndim == 1 and len(in_shape) == 1 and th.numel() == in_shape[0]:
        threshold = th.numpy().copy()  # one per feature of a Dense layer: the IR's per-channel threshold
    else:
        raise refuse(path, m, f"threshold of shape {tuple(th.shape)} on inputs of shape {tuple(in_shape)}; the IR "
                              f"holds one threshold per layer or per channel")
    scale = _scalar(path, m, "graded_spikes_factor", m.graded_spikes_factor)
    kw = dict(beta=beta, threshold=threshold, reset=reset, compare="gt", output_scale=scale,
              metadata={"source": f"snntorch.{cls}", "reset_delay": delay})
    if cls == "Synaptic":
        return N.Neuron(model="cuba", alpha=min(max(_scalar(path, m, "alpha", m.alpha), 0.0), 1.0), **kw)
    return N.Neuron(model="lif", **kw)


def _spikingjelly(path: str, m: nn.Module) -> N.Neuron:
    import torch
    cls = type(m).__name__
    if cls in _RECURRENT:
        raise refuse(path, m, _RECURRENT[cls])
    if cls not in SJ_OK or not type(m).__module__.startswith("spikingjelly.activation_based"):
        raise refuse(path, m, f"SpikingJelly module '{cls}' has no IR equivalent; supported: neuron.IFNode, "
                              f"neuron.LIFNode, neuron.ParametricLIFNode")
    if getattr(m, "_neuron_precision", None) is not None:
        raise refuse(path, m, "a reduced neuron precision (set_neuron_precision) is not the float model; reset it")
    v_reset = m.v_reset
    if v_reset is None:
        reset = "subtract"
    elif float(v_reset) == 0.0:
        reset = "zero"
    else:
        raise refuse(path, m, f"v_reset={v_reset:g}: the IR neuron resets to 0 (v_reset=0.0) or by subtraction "
                              f"(v_reset=None)")
    if cls == "IFNode":
        beta, gain = 1.0, 1.0
    else:
        if cls == "LIFNode":
            inv_tau = 1.0 / float(m.tau)
        else:  # ParametricLIFNode: 1/τ = sigmoid(w), computed as the peer does (in w's dtype)
            inv_tau = float(torch.sigmoid(m.w.detach()))
        beta, gain = 1.0 - inv_tau, (inv_tau if m.decay_input else 1.0)
    return N.Neuron(model="if" if cls == "IFNode" else "lif", beta=beta, input_gain=gain,
                    threshold=float(m.v_threshold), reset=reset, compare="ge",
                    metadata={"source": f"spikingjelly.{cls}", "step_mode": step_mode(m)})


def peer_neuron(path: str, m: nn.Module, in_shape=()) -> N.Neuron:
    """The IR neuron computing what the peer module ``m`` (at ``path`` in the model) computes, or
    :class:`UnsupportedModuleError` naming the path, the class and the reason."""
    if is_snntorch_neuron(m):
        return _snntorch(path, m, tuple(in_shape))
    if is_sj_neuron(m):
        return _spikingjelly(path, m)
    raise refuse(path, m, "not a snnTorch or SpikingJelly neuron")
