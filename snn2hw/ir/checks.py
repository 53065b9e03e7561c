"""Graph-level checks shared by the integer consumers (simulators and exporters)."""
from __future__ import annotations

from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph


def quantization_problems(graph: Graph) -> list:
    """Every reason ``graph`` is not an integer network yet (empty when it is), in graph order."""
    problems = []
    for name in graph.topological_order():
        node = graph.nodes[name]
        if isinstance(node, N.SYNAPSES) and node.weight_int is None:
            problems.append(f"synapse '{name}' ({type(node).__name__}) has no integer weights")
        if isinstance(node, N.Neuron) and (node.vth is None or node.du is None or node.dv is None):
            problems.append(f"neuron '{name}' has no integer parameters (vth/du/dv)")
        if isinstance(node, N.Input) and node.step is None:
            problems.append(f"input '{name}' has no integer step")
        if isinstance(node, (N.AvgPool2d, N.BatchNorm)):
            problems.append(f"node '{name}' ({type(node).__name__}) must be folded first")
    return problems


def format_problems(graph: Graph, formats) -> list:
    """Every integer parameter of ``graph`` that the profile ``formats`` cannot hold (empty when all fit).

    Checked: weights (signed ``weight_bits``), weight exponents ``[weight_exp_min, weight_exp_max]``,
    threshold mantissas (unsigned ``threshold_mant_bits``; a readout may hold ``2^bits``, its
    never-firing value), bias mantissas (signed ``bias_mant_bits``), decays (Lava's 12-bit ranges
    ``du`` in [-1, 4095], ``dv`` in [0, 4096]: the execution model's unit is 4096 whatever
    ``decay_bits`` says) and the input width. Used by ``convert`` to refuse rather than let a value
    that does not fit reach the exporters and simulators.
    """
    p = []
    wmax = 2 ** (formats.weight_bits - 1)
    bmax = 2 ** (formats.bias_mant_bits - 1)
    vcap = 2 ** formats.threshold_mant_bits
    if formats.decay_bits != 12:
        p.append(f"decay_bits is {formats.decay_bits}, but the execution model's decays are 12-bit (unit 4096)")
    for name in graph.topological_order():
        node = graph.nodes[name]
        if isinstance(node, N.SYNAPSES) and node.weight_int is not None:
            w = node.weight_int
            if w.size and (int(w.min()) < -wmax or int(w.max()) > wmax - 1):
                p.append(f"synapse '{name}': integer weights span [{int(w.min())}, {int(w.max())}], beyond signed "
                         f"{formats.weight_bits}-bit [{-wmax}, {wmax - 1}]")
            if not formats.weight_exp_min <= node.weight_exp <= formats.weight_exp_max:
                p.append(f"synapse '{name}': weight exponent {node.weight_exp} outside "
                         f"[{formats.weight_exp_min}, {formats.weight_exp_max}]")
        if isinstance(node, N.Neuron) and node.vth is not None:
            top = vcap if node.readout else vcap - 1
            if node.vth.size and (int(node.vth.min()) < 0 or int(node.vth.max()) > top):
                p.append(f"neuron '{name}': threshold mantissa spans [{int(node.vth.min())}, {int(node.vth.max())}], "
                         f"beyond unsigned {formats.threshold_mant_bits}-bit [0, {top}]")
            b = node.bias_mant
            if b is not None and b.size and (int(b.min()) < -bmax or int(b.max()) > bmax - 1):
                p.append(f"neuron '{name}': bias mantissa spans [{int(b.min())}, {int(b.max())}], beyond signed "
                         f"{formats.bias_mant_bits}-bit [{-bmax}, {bmax - 1}]")
            if node.du is not None and not -1 <= node.du <= 4095:
                p.append(f"neuron '{name}': du = {node.du} outside [-1, 4095]")
            if node.dv is not None and not 0 <= node.dv <= 4096:
                p.append(f"neuron '{name}': dv = {node.dv} outside [0, 4096]")
        if isinstance(node, N.Input) and node.bits is not None and node.bits > formats.input_bits:
            p.append(f"input '{name}': {node.bits}-bit inputs, the profile sends {formats.input_bits} bits")
    return p


# -- integer-graph sanity before export (issue 13, point 4) -----------------------------------------------------
EXP_RANGE = (-31, 31)  # a shift beyond the 24-bit state (plus the <<6 scale) is never meaningful


def _threshold_positive(name, node) -> list:
    if isinstance(node, N.Neuron) and node.vth is not None and node.vth.size and int(node.vth.min()) <= 0:
        return [f"neuron '{name}': threshold mantissa {int(node.vth.min())} <= 0 (must be > 0)"]
    return []


def _exponent_in_range(name, node) -> list:
    lo, hi = EXP_RANGE
    if isinstance(node, N.SYNAPSES) and node.weight_int is not None and not lo <= node.weight_exp <= hi:
        return [f"synapse '{name}': weight exponent {node.weight_exp} outside [{lo}, {hi}]"]
    return []


def _decays_in_range(name, node) -> list:
    p = []
    if isinstance(node, N.Neuron):
        if node.du is not None and not -1 <= node.du <= 4095:
            p.append(f"neuron '{name}': du = {node.du} outside [-1, 4095]")
        if node.dv is not None and not 0 <= node.dv <= 4096:
            p.append(f"neuron '{name}': dv = {node.dv} outside [0, 4096]")
    return p


INTEGER_CHECKS = (_threshold_positive, _exponent_in_range, _decays_in_range)


def integer_problems(graph: Graph) -> list:
    """Every value of an integer graph that no chip can run (all of them, in graph order): thresholds
    must be > 0, weight exponents within :data:`EXP_RANGE`, decays within Lava's 12-bit ranges.
    Run by :func:`snn2hw.exporters.export.export` before anything is written."""
    p = []
    for name in graph.topological_order():
        for check in INTEGER_CHECKS:
            p.extend(check(name, graph.nodes[name]))
    return p
