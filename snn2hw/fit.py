"""The fit advisor (issue 16, point 4): the smallest structured pruning that makes a model fit a profile, or,
for a model that fits, its head-room. ``snn2hw fit`` (``snn2hw/cli_fit.py``) is the command; docs/FIT.md.

Every candidate is checked by the real mapping: the candidate model is saved as a checkpoint (a temporary
file), loaded, converted for the profile (with the ``--data`` calibration, as ``snn2hw map --data`` does) and
mapped by :func:`snn2hw.simulators.mapping.map_graph` — the code ``snn2hw map`` and ``snn2hw simulate`` run.

Does not fit: the search
  1. maps the model and groups its violations by *target*, the channel group whose pruning removes them: the
     population a violation's machine-readable suggestion names (``Violation.suggested["channels"]``: the
     layer's own output channels, or its source's), else the violating layer's source population (fan-in,
     synapse memory) or the layer itself; a violation of the whole network (total cores, chips) targets
     every prunable group with one uniform ratio;
  2. takes the targets smallest suggested pruning first and, for each, finds the **largest number of kept
     channels** ``k`` at which the target's violations are gone (the others kept as chosen so far). Fewer
     channels never need more kernel, neuron, bias, fan-in or synapse memory, so "its violations are gone" is
     monotone in ``k``: a galloping search up from the mapping's suggested width (it checks the suggestion,
     then suggestion + 1, + 3, + 7, ... and bisects the last gap), or a bisection over ``1 .. C-1`` without a
     suggestion. Channels are chosen by filter L1 norm (``prune_channels(model, 'l1', ...)``, what
     ``snn2hw compress --method l1`` does), so the pruned model is deterministic;
  3. maps the whole candidate again; violations left (a coupling the per-target search could not see) start
     another round (at most ``MAX_ROUNDS``);
  4. fine-tunes the fitting model (``train.finetune``, the l1 preset: Adam lr 1e-3, ``epochs``), saves it,
     maps the **saved file** again, and measures the original and the fitted model with ``build_report`` (the
     ``snn2hw simulate`` path): integer accuracy on the profile, energy per sample, cores.

Weight bits and timesteps are not searched: neither changes a shared-kernel chip's memories (Speck counts kernel
entries), and the mapping of a synapse-list chip does not depend on the timesteps (it is per network, not per
step); a synapse-memory violation on Loihi is fixed here by pruning (the conversion re-quantizes every layer to
the profile's 8-bit weights after folding per-channel scales, so a ReScaW model of fewer bits stores the same
synapses: docs/FIT.md). Violations no pruning can fix (kernel size,
stride, pooling, layer count) are reported as such.

Fits already: the head-room is
  * the largest use of each per-core limit over the cores used (kernel / neuron / bias entries on a
    shared-kernel chip; neurons, synapse bits, fan-in axons, fan-out axons on a synapse-list chip), and the
    cores used of those available;
  * the **growth factor**: the largest uniform factor ``g`` by which every hidden width of the built-in
    architecture (``widths``, ``hidden``, ``channels``/``fc_hidden``, ``cfg``) can be multiplied and the model
    still fit, each probe a freshly built model of that width (seeded random weights) through the real
    conversion and mapping: doubling 2, 4, 8, 16, then bisection of the last gap to 1/8. Shrinking never makes
    a model stop fitting, so this is how far it can grow; ``>= 16`` when it still fits at 16.
"""
from __future__ import annotations

import copy
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from .errors import Snn2hwError

MAX_ROUNDS = 3
GROWTH_CAP = 16.0
GROWTH_STEP = 0.125
UNIFORM_STEPS = 32  # a whole-network violation: uniform ratio i / 32
#: the width kwargs of each built-in architecture that the growth probe scales
WIDTH_KWARGS = {"digits_conv": ("widths",), "mlp": ("hidden",), "6conv2fc": ("channels", "fc_hidden"),
                "vgg16": ("cfg",), "resnet19": ("widths", "fc_hidden"), "resnet20": ("widths",)}
#: rules whose violations no channel pruning removes
UNFIXABLE = ("check_kernel_size", "check_layer_geometry", "check_weight_bits", "check_layers")



def _flip(lo: int, hi: int, ok, ok_at_lo: bool) -> tuple:
    """Bisect ``[lo, hi]`` (``ok(lo) == ok_at_lo != ok(hi)``, ``ok`` monotone) to the adjacent pair where ``ok``
    flips: ``(lo, hi)`` with ``hi == lo + 1``."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid) == ok_at_lo:
            lo = mid
        else:
            hi = mid
    return lo, hi

class FitError(Snn2hwError):
    """A bad fit input, or no candidate in the search space fits (exit 2)."""


@dataclass
class Candidate:
    """One verified candidate: the kept channels per target (``uniform``: a whole-network ratio)."""

    keep: Dict[str, int]
    uniform: float
    fits: bool
    violations: list
    cores: int
    seconds: float

    def describe(self, widths: Dict[str, int]) -> str:
        parts = [f"{t} {widths[t]} -> {k} channels" for t, k in sorted(self.keep.items())]
        if self.uniform:
            parts.append(f"uniform ratio {self.uniform:g} on every prunable layer")
        return ", ".join(parts) or "no change"


@dataclass
class FitResult:
    profile: str
    fits_already: bool
    original: dict                      # mapping summary of the original (fits, cores, violations)
    change: Optional[dict] = None       # {"keep": {...}, "channels_before": {...}, "uniform": r, "text": ...}
    fitted: Optional[dict] = None       # mapping summary of the written checkpoint
    metrics: Optional[dict] = None      # {"original": summarise(...), "fitted": summarise(...)}
    headroom: Optional[dict] = None
    candidates: List[dict] = field(default_factory=list)
    out: Optional[str] = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


# ----------------------------------------------------------------------------- the real mapping of a model
def _map_file(path, profile: str, data_spec: Optional[str]):
    """What ``snn2hw map PATH --profile P [--data D]`` computes."""
    from .cli import _load_integer
    from .simulators.mapping import map_graph
    g, _ = _load_integer(str(path), profile, None, data_spec, None)
    return map_graph(g, profile)


def _mapping_doc(res) -> dict:
    return {"fits": bool(res.fits), "cores": int(res.totals["cores_used"]),
            "cores_available": res.totals.get("cores_available"), "chips": res.totals.get("chips_needed"),
            "utilisation": utilisation(res),
            "violations": [{"rule": v.rule, "layer": v.layer, "resource": v.resource, "needed": v.needed,
                            "available": v.available, "suggestion": v.suggestion} for v in res.violations]}


def utilisation(res) -> dict:
    """The largest use of each per-core limit over the cores used, as a fraction, with the layer that has it."""
    out = {}

    def put(key, used, lim, layer):
        if lim:
            f = float(used) / float(lim)
            if key not in out or f > out[key]["fraction"]:
                out[key] = {"fraction": round(f, 4), "used": int(used), "limit": int(lim), "layer": layer}
    for u in res.usage:
        if getattr(u, "kernel_limit", 0):  # a shared-kernel core
            put("kernel_entries", u.kernel_entries, u.kernel_limit, u.layer)
            put("neuron_entries", u.neuron_entries, u.neuron_limit, u.layer)
            put("bias_entries", u.bias_entries, u.bias_limit, u.layer)
        else:
            put("neurons", u.neurons, res.limits.get("neurons_per_core"), u.layer)
            put("synapse_bits", u.synapse_bits, res.limits.get("synapse_memory_bits_per_core"), u.layer)
            put("fan_in_axons", u.fan_in, res.limits.get("fan_in_axons_per_core"), u.layer)
            put("fan_out_axons", u.fan_out, res.limits.get("fan_out_axons_per_core"), u.layer)
    return out


def _save(model, path, ck, data, data_spec, **extra):
    from .cli_compress import _meta
    from .compress.pipeline import save_compressed
    if data is None:
        meta = {k: ck.info[k] for k in ("input_step", "timesteps", "encoding", "dataset") if k in ck.info}
        meta.update(extra)
    else:
        meta = _meta(ck, data, data_spec, **extra)
    save_compressed(path, model, **meta)


# ----------------------------------------------------------------------------- channel groups of the model
def _groups(model):
    """``{population name: channels}`` of the prunable channel groups (named by their first neuron)."""
    from .compress.pipeline import _graph
    from .passes.structured_prune import ChannelGroups
    cg = ChannelGroups(_graph(model))
    out = {}
    for r, g in cg.groups.items():
        if cg.prunable(r) and g["neurons"]:
            out[g["neurons"][0]] = int(g["channels"])
    return cg, out


def _pruned(model, keep: Dict[str, int], widths: Dict[str, int], uniform: float, seed: int):
    """A copy of ``model`` with target ``t`` kept at ``keep[t]`` channels (filter L1 norm) and every other
    prunable group at ratio ``uniform``."""
    from .compress.pipeline import prune_channels
    m = copy.deepcopy(model)
    if hasattr(m, "arch"):
        m.arch_kwargs = dict(m.arch_kwargs)
    ratios = {}
    for t, n in widths.items():
        if t in keep:
            k = int(keep[t])
            r = (n - k - 0.5) / n if k < n else 0.0  # int(n * (1 - r)) == k
        else:
            r = float(uniform)
            k = int(n * (1 - r))
        if k < n:
            ratios[t] = max(0.0, r)
    if ratios:
        prune_channels(m, "l1", ratios, seed=seed)
    m.eval()
    return m


# ----------------------------------------------------------------------------- the search
class _Search:
    def __init__(self, ck, data, data_spec, profile, seed, log, tmpdir):
        self.ck, self.data, self.data_spec, self.profile = ck, data, data_spec, profile
        self.seed, self.log, self.tmp = seed, log, Path(tmpdir)
        self.model = ck.model
        self.cg, self.widths = _groups(self.model)
        self.n = 0
        self.cache = {}
        self.candidates: List[Candidate] = []

    def probe(self, keep: Dict[str, int], uniform: float = 0.0, why: str = "") -> Candidate:
        key = (tuple(sorted(keep.items())), round(float(uniform), 6))
        if key in self.cache:
            return self.cache[key]
        t0 = time.perf_counter()
        m = _pruned(self.model, keep, self.widths, uniform, self.seed)
        path = self.tmp / f"candidate_{self.n:03d}.pt"
        _save(m, path, self.ck, self.data, self.data_spec)
        res = _map_file(path, self.profile, self.data_spec)
        path.unlink()
        c = Candidate(dict(keep), float(uniform), bool(res.fits), list(res.violations),
                      int(res.totals["cores_used"]), time.perf_counter() - t0)
        self.n += 1
        self.cache[key] = c
        self.candidates.append(c)
        state = "fits" if c.fits else f"{len(c.violations)} violation(s): " + "; ".join(
            sorted({f"{v.layer or 'network'} {v.resource}" for v in c.violations}))
        self.log(f"candidate {self.n}: {c.describe(self.widths)}{' (' + why + ')' if why else ''} -> "
                 f"{c.cores} cores, {state} ({c.seconds:.1f} s)")
        return c

    def target_of(self, v, res) -> Optional[str]:
        """The channel group whose pruning removes violation ``v`` (None: not by pruning one layer)."""
        if v.rule in UNFIXABLE or v.layer is None:  # whole-network violations: one uniform ratio (run)
            return None
        sug = v.suggested or {}
        for d in (sug, sug.get("alternative") or {}):
            for who in (d.get("channels") or {}):
                t = self._group_name(who)
                if t is not None:
                    return t
        if v.layer is None:
            return None
        ln = (res.needs.layers.get(v.layer) if res.needs is not None else None)
        cands = list(getattr(ln, "sources", None) or []) + [v.layer]
        for who in cands:
            t = self._group_name(who)
            if t is not None:
                return t
        return None

    def _group_name(self, who: str) -> Optional[str]:
        if who in self.widths:
            return who
        if who in self.cg.graph.nodes:
            r = self.cg.root_of(who)
            g = self.cg.groups.get(r)
            if g and g["neurons"] and g["neurons"][0] in self.widths:
                return g["neurons"][0]
        return None

    def hint(self, v, target) -> Optional[int]:
        sug = v.suggested or {}
        for d in (sug, sug.get("alternative") or {}):
            for who, new in (d.get("channels") or {}).items():
                if self._group_name(who) == target:
                    return int(new)
        return None

    def largest_keep(self, keep, uniform, target, layers, hint) -> Optional[int]:
        """The largest kept-channel count of ``target`` at which none of the violations ``layers`` ((rule, layer)
        pairs) remains."""
        n = self.widths[target]

        def ok(k):
            c = self.probe({**keep, target: k}, uniform, why=f"search {target}")
            return not any((v.rule, v.layer) in layers for v in c.violations)
        lo, hi = 0, n  # ok(lo) (0: "none known"), not ok(hi)
        if hint is not None and 1 <= hint < n:
            if ok(hint):
                lo, step = hint, 1
                while lo + step < n:
                    if ok(lo + step):
                        lo += step
                        step *= 2
                    else:
                        hi = lo + step
                        break
            else:
                hi = hint
        lo, hi = _flip(lo, hi, ok, True)
        return lo or None

    def smallest_uniform(self, keep, v_key) -> Optional[float]:
        """The smallest uniform ratio i / UNIFORM_STEPS at which no whole-network violation remains."""
        def ok(i):
            c = self.probe(keep, i / UNIFORM_STEPS, why="uniform ratio")
            return not any(v.layer is None for v in c.violations)
        lo, hi = 0, UNIFORM_STEPS - 1  # not ok(lo); ok(hi)?
        if not ok(hi):
            return None
        lo, hi = _flip(lo, hi, ok, False)
        return hi / UNIFORM_STEPS

    def run(self, res0):
        keep: Dict[str, int] = {}
        uniform = 0.0
        res = res0
        violations = list(res0.violations)
        unfixable = []
        for rnd in range(MAX_ROUNDS):
            by_target: Dict[str, list] = {}
            network, unfixable = [], []
            for v in violations:
                t = self.target_of(v, res) if res is not None else None
                if t is not None:
                    by_target.setdefault(t, []).append(v)
                elif v.layer is None and v.rule not in UNFIXABLE and "remove_layers" not in (v.suggested or {}):
                    network.append(v)
                else:
                    unfixable.append(v)
            if not by_target and not network:
                break  # only violations no pruning removes are left

            def need(t):
                hs = [h for h in (self.hint(v, t) for v in by_target[t]) if h is not None]
                return (1 - min(hs) / self.widths[t]) if hs else 1.0, t
            stuck = False
            for t in sorted(by_target, key=need):  # the smallest suggested pruning first
                layers = {(v.rule, v.layer) for v in by_target[t]}
                hs = [h for h in (self.hint(v, t) for v in by_target[t]) if h is not None]
                k = self.largest_keep(keep, uniform, t, layers, min(hs) if hs else None)
                if k is None:  # not even one channel removes them
                    stuck = True
                    continue
                keep[t] = min(k, keep.get(t, k))
            if network:
                u = self.smallest_uniform(keep, None)
                if u is None:
                    stuck = True
                else:
                    uniform = max(uniform, u)
            c = self.probe(keep, uniform, why=f"round {rnd + 1}: the whole change")
            if c.fits:
                return c, []
            if stuck:
                break
            violations = c.violations
            res = self._map_candidate(keep, uniform)  # the candidate's needs, for the next round's targets
        none = Candidate({}, 0.0, False, list(res0.violations), int(res0.totals["cores_used"]), 0.0)
        best = min(self.candidates + [none], key=lambda c: (len(c.violations), -sum(c.keep.values())))
        return best, list(best.violations)

    def _map_candidate(self, keep, uniform):
        m = _pruned(self.model, keep, self.widths, uniform, self.seed)
        path = self.tmp / "round.pt"
        _save(m, path, self.ck, self.data, self.data_spec)
        try:
            return _map_file(path, self.profile, self.data_spec)
        finally:
            path.unlink()


# ----------------------------------------------------------------------------- head-room
def _scaled(kw: dict, keys, g: float) -> dict:
    out = dict(kw)
    for k in keys:
        v = out.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = max(1, int(round(v * g)))
        elif isinstance(v, (list, tuple)):
            out[k] = [max(1, int(round(x * g))) if isinstance(x, (int, float)) and not isinstance(x, bool) else x
                      for x in v]
    return out


def headroom(ck, data, data_spec, profile, res0, seed: int = 0, log: Callable = print, tmpdir=None) -> dict:
    """Utilisation of the fitting model and the growth factor (see the module docstring)."""
    import torch
    from .models import build_model
    from .models.registry import list_models
    util = utilisation(res0)
    worst = max(util.items(), key=lambda kv: kv[1]["fraction"]) if util else None
    out = {"utilisation": util, "binding": ({"resource": worst[0], **worst[1]} if worst else None),
           "cores": int(res0.totals["cores_used"]), "cores_available": res0.totals.get("cores_available"),
           "growth": None, "growth_note": None, "probes": []}
    model = ck.model
    arch = getattr(model, "arch", None)
    if arch not in WIDTH_KWARGS or arch not in list_models():
        out["growth_note"] = (f"growth not probed: architecture '{arch}' has no width option to scale (a pruned "
                              f"or quantized checkpoint, or a model from outside snn2hw)")
        return out
    keys = WIDTH_KWARGS[arch]
    kw0 = dict(model.arch_kwargs)
    defaults = _arch_defaults(arch)
    for k in keys:
        kw0.setdefault(k, defaults.get(k))
    tmp = Path(tmpdir)

    def fits(g):
        kw = _scaled(kw0, keys, g)
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        m = build_model(arch, **kw)
        p = tmp / "growth.pt"
        _save(m, p, ck, data, data_spec)
        r = _map_file(p, profile, data_spec)
        p.unlink()
        sz = {k: kw[k] for k in keys if k in kw}
        log(f"head-room probe: widths x{g:g} {sz} -> {r.totals['cores_used']} cores, "
            f"{'fits' if r.fits else f'{len(r.violations)} violation(s)'} ({time.perf_counter() - t0:.1f} s)")
        out["probes"].append({"factor": g, "kwargs": sz, "fits": bool(r.fits), "cores": int(r.totals["cores_used"])})
        return r.fits
    lo, hi, g = 1.0, None, 2.0
    while g <= GROWTH_CAP:
        if fits(g):
            lo = g
            g *= 2
        else:
            hi = g
            break
    if hi is None:
        out["growth"] = lo
        out["growth_note"] = f"still fits at x{lo:g} (the largest factor probed)"
        return out
    while hi - lo > GROWTH_STEP + 1e-9:
        mid = round((lo + hi) / 2 / GROWTH_STEP) * GROWTH_STEP
        if mid <= lo or mid >= hi:
            break
        if fits(mid):
            lo = mid
        else:
            hi = mid
    out["growth"] = lo
    out["growth_fails_at"] = hi
    return out


def _arch_defaults(arch: str) -> dict:
    import inspect
    from .models.registry import _REGISTRY
    sig = inspect.signature(_REGISTRY[arch])
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


# ----------------------------------------------------------------------------- the advisor
def check_inputs(ckpt, profile: str, max_accuracy_drop: Optional[float]) -> None:
    from .hw_profiles import load_profile
    load_profile(profile)
    if max_accuracy_drop is not None and not (math.isfinite(float(max_accuracy_drop))
                                              and float(max_accuracy_drop) >= 0):
        raise FitError(f"--max-accuracy-drop must be a finite number >= 0 (percentage points), "
                       f"got {max_accuracy_drop}")
    if not Path(ckpt).is_file():
        raise FitError(f"{ckpt}: no such checkpoint file")


def _measure(path, data, data_spec, profile, samples, T):
    from .data import model_inputs
    from .frontends.load import load
    from .report.build import build_report
    from .sweep import summarise
    g = load(str(path))
    for n in g.inputs:
        if g.nodes[n].step is None and data.input_step:
            g.nodes[n].step = float(data.input_step)
    x, y, _ = model_inputs(g, data, samples, T)
    s = summarise(build_report(g, x, [profile], labels=y, source=Path(path).name, data_name=data_spec))
    p = s["profiles"][next(iter(s["profiles"]))]
    return {"float_accuracy": s["float_accuracy"], "int_accuracy": p["int_accuracy"],
            "energy_pj_per_sample": p["energy_pj_per_sample"], "cores": p["cores"], "fits": p["fits"],
            "samples": int(x.shape[1])}


def fit(ckpt, profile: str, data_spec: Optional[str] = None, out=None, max_accuracy_drop: Optional[float] = None,
        epochs: int = 1, samples: int = 200, seed: int = 0, log: Callable = print) -> FitResult:
    """Run the fit advisor (module docstring). ``out``: where the fitted checkpoint goes (written only when the
    model did not fit and a verified fitting candidate passed the accuracy limit). Raises :class:`FitError`
    when nothing in the search space fits or the accuracy drop is too large (nothing written then)."""
    import torch
    from .frontends.checkpoint import load_checkpoint
    t_start = time.perf_counter()
    check_inputs(ckpt, profile, max_accuracy_drop)
    if data_spec is not None:
        from .cli_compress import _load
        ck, data = _load(ckpt, data_spec)
    else:
        ck, data = load_checkpoint(ckpt), None
        if not hasattr(ck.model, "arch"):
            raise FitError(f"{ckpt}: the fit advisor needs a snn2hw checkpoint of a built-in architecture")
    T = int(ck.info.get("timesteps") or 4)
    torch.manual_seed(seed)
    res0 = _map_file(ckpt, profile, data_spec)
    doc0 = _mapping_doc(res0)
    log(f"{Path(ckpt).name} on {profile}: {doc0['cores']} cores, "
        + ("fits" if res0.fits else f"does not fit ({len(res0.violations)} violation(s)):"))
    for v in res0.violations:
        log(f"  {v.layer or 'whole network'}: {v.resource} needs {v.needed:g}, available {v.available:g}")
    result = FitResult(profile=profile, fits_already=bool(res0.fits), original=doc0)
    with tempfile.TemporaryDirectory(prefix="snn2hw-fit-") as tmp:
        if res0.fits:
            result.headroom = headroom(ck, data, data_spec, profile, res0, seed=seed, log=log, tmpdir=tmp)
            result.seconds = round(time.perf_counter() - t_start, 2)
            return result
        s = _Search(ck, data, data_spec, profile, seed, log, tmp)
        best, left = s.run(res0)
        result.candidates = [{"keep": c.keep, "uniform": c.uniform, "fits": c.fits, "cores": c.cores,
                              "violations": len(c.violations), "seconds": round(c.seconds, 2)}
                             for c in s.candidates]
        if not best.fits:
            lines = [f"  {v.layer or 'whole network'}: {v.resource} needs {v.needed:g}, available "
                     f"{v.available:g} ({v.rule})" for v in left]
            raise FitError(f"no candidate in the search space fits {profile} ({s.n} candidate(s) mapped); the best "
                           f"one ({best.describe(s.widths)}) still violates:\n" + "\n".join(lines))
        change = {"keep": dict(best.keep), "channels_before": {t: s.widths[t] for t in best.keep},
                  "uniform_ratio": best.uniform,
                  "ratios": {t: round(1 - k / s.widths[t], 4) for t, k in best.keep.items()},
                  "text": best.describe(s.widths)}
        result.change = change
        log(f"change: {change['text']} (structured pruning by filter L1 norm, "
            + ", ".join(f"{t} ratio {r:.3f}" for t, r in change["ratios"].items()) + ")")
        model = _pruned(ck.model, best.keep, s.widths, best.uniform, seed)
        if data is not None and epochs > 0:
            from .train.finetune import PRESETS, finetune
            torch.manual_seed(seed)
            finetune(model, data, int(epochs), T, batch_size=64, seed=seed, progress=False, desc="fit",
                     **PRESETS["l1"])
            model.eval()
        tmp_out = Path(tmp) / "fitted.pt"
        comp = {"method": "fit", "profile": profile, "change": change, "finetune_epochs": int(epochs) if data else 0,
                "source": Path(ckpt).name}
        _save(model, tmp_out, ck, data, data_spec, compression=comp)
        res1 = _map_file(tmp_out, profile, data_spec)  # the saved file, mapped again
        result.fitted = _mapping_doc(res1)
        if not res1.fits:
            raise FitError(f"the fine-tuned candidate ({change['text']}) no longer fits {profile}: "
                           + "; ".join(str(v) for v in res1.violations))
        if data is not None:
            m0 = _measure(ckpt, data, data_spec, profile, samples, T)
            m1 = _measure(tmp_out, data, data_spec, profile, samples, T)
            result.metrics = {"original": m0, "fitted": m1}
            drop = 100.0 * ((m0["int_accuracy"] or 0.0) - (m1["int_accuracy"] or 0.0))
            result.metrics["int_accuracy_drop_points"] = round(drop, 4)
            if max_accuracy_drop is not None and drop > float(max_accuracy_drop) + 1e-9:
                raise FitError(f"the smallest change that fits {profile} ({change['text']}, {int(epochs)} fine-tune "
                               f"epoch(s)) loses {drop:.1f} points of integer accuracy on {m1['samples']} samples "
                               f"({m0['int_accuracy']:.4f} -> {m1['int_accuracy']:.4f}), more than "
                               f"--max-accuracy-drop {max_accuracy_drop:g}; nothing written (try more --epochs)")
        if out is not None:
            from .util.atomic import write_bytes
            write_bytes(out, tmp_out.read_bytes())  # temp file in out's folder, then rename
            result.out = str(out)
    result.seconds = round(time.perf_counter() - t_start, 2)
    return result
