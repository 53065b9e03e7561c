"""Design-space exploration (issue 16): an Optuna multi-objective study over the compression space.

Each trial runs the real path through library functions: ``compress`` (method, pruning ratio with a
multiplier per prunable layer for qp-snn and l1, qp-snn bits, fine-tuning epochs) → ``save_compressed`` (atomically, under ``DIR/trials/``) → load it again → convert +
simulate on every profile (``build_report``, what ``snn2hw simulate`` runs). Objectives: integer test accuracy
on the first profile (maximise), energy per sample, latency per input step and cores on the first profile
(minimise); constraint: the model fits every profile (Optuna's ``constraints_func``, <= 0 is feasible).

Storage: Optuna's RDB storage, SQLite ``DIR/sweep.db`` by default (no server). Resuming (``load_if_exists``)
gives the same trials as an uninterrupted run with the same seed because

* every trial's sampler is built afresh, seeded by ``(seed, k)`` with ``k`` the number of trials already
  finished (a sampler's random state lives in the process, so a resumed process would otherwise draw the
  first trial's numbers again), and NSGA-II's generations and parent populations are derived from (and
  cached in) the storage;
* a trial left RUNNING by a killed process is marked FAIL and tagged ``interrupted`` on resume; such trials
  count neither for ``k`` nor for ``--trials`` nor in ``pareto.json``;
* each trial's compression uses the sweep seed, so its checkpoint depends on its parameters only.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

from .errors import Snn2hwError

STUDY = "snn2hw-sweep"
CONFIG = "sweep.json"
DB = "sweep.db"
OBJECTIVES = ("int_accuracy", "energy_pj_per_sample", "latency_ns_per_input_step", "cores")
DIRECTIONS = ("maximize", "minimize", "minimize", "minimize")
RATIOS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # a grid: equal configurations are recognised as equal
BITS = (2, 3, 4, 6, 8)
LAYER_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)  # per-layer multipliers of the global ratio (methods qp-snn, l1)
MAX_LAYER_RATIO = 0.9
INTERRUPTED = "interrupted"
DUPLICATE = "duplicate_of"
MAX_DUPLICATES = 20  # proposals of an already-run configuration skipped in a row before one is run again


class SweepError(Snn2hwError):
    """A bad sweep option, space or storage (exit 2)."""


@dataclass
class SweepConfig:
    checkpoint: str
    profiles: List[str]
    data: str
    trials: int
    seed: int = 0
    storage: Optional[str] = None
    methods: List[str] = field(default_factory=list)
    max_epochs: int = 2
    samples: int = 100  # test samples simulated per trial
    timesteps: List[int] = field(default_factory=list)  # empty: the checkpoint's T only
    population: Optional[int] = None  # NSGA-II population; None: trials // 3 within [2, 10]
    per_layer: bool = True  # a ratio multiplier per prunable layer in the space (LAYER_SCALES)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def default_methods() -> List[str]:
    from .compress.pipeline import METHODS
    return list(METHODS)


def check_config(cfg: SweepConfig) -> None:
    """Refuse an unknown method or profile, a bad count, before any work (SweepError)."""
    from .compress.pipeline import METHODS
    from .hw_profiles import load_profile
    if not cfg.profiles:
        raise SweepError("--profile: give at least one profile")
    for p in cfg.profiles:
        load_profile(p)  # ProfileError (an Snn2hwError) names the valid ones
    bad = [m for m in cfg.methods if m not in METHODS]
    if bad:
        raise SweepError(f"unknown method(s) in the space: {', '.join(bad)}; valid: {', '.join(METHODS)}")
    if not cfg.methods:
        raise SweepError("--methods: the space needs at least one method")
    if cfg.trials < 1:
        raise SweepError(f"--trials must be >= 1, got {cfg.trials}")
    if cfg.population is not None and int(cfg.population) < 2:
        raise SweepError(f"--population must be >= 2, got {cfg.population}")
    if cfg.max_epochs < 0:
        raise SweepError(f"--max-epochs must be >= 0, got {cfg.max_epochs}")
    if any(int(t) < 1 for t in cfg.timesteps):
        raise SweepError(f"--timesteps must be >= 1, got {cfg.timesteps}")


def storage_url(out_dir, storage: Optional[str]) -> str:
    return storage or f"sqlite:///{Path(out_dir).resolve() / DB}"


def open_storage(url: str):
    """Optuna's RDB storage for ``url``; a URL that cannot be opened is a SweepError."""
    import optuna
    try:
        return optuna.storages.RDBStorage(url, heartbeat_interval=None)
    except Exception as e:  # noqa: BLE001 - sqlalchemy/optuna raise many kinds (ArgumentError, OperationalError...)
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SweepError(f"--storage {url}: cannot open it ({type(e).__name__}: {msg[:300]})") from None


# ----------------------------------------------------------------------------- one trial
def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def suggest(trial, cfg: SweepConfig, T0: int, layers=()) -> dict:
    """Every parameter is suggested in every trial (so NSGA-II crosses over all of them); ``effective`` drops
    the ones the method ignores. ``layers``: the model's prunable layers (``prunable_groups``), each with a
    multiplier ``scale:<layer>`` of the global ratio when ``cfg.per_layer``."""
    p = {"method": trial.suggest_categorical("method", list(cfg.methods)),
         "ratio": trial.suggest_categorical("ratio", list(RATIOS)),
         "bits": trial.suggest_categorical("bits", list(BITS)),
         "epochs": trial.suggest_int("epochs", 0, int(cfg.max_epochs))}
    ts = sorted(set(int(t) for t in cfg.timesteps)) or [T0]
    p["timesteps"] = trial.suggest_categorical("timesteps", ts) if len(ts) > 1 else ts[0]
    if cfg.per_layer:
        p["scales"] = {n: float(trial.suggest_categorical(f"scale:{n}", list(LAYER_SCALES))) for n in layers}
    return p


def layer_ratio(ratio: float, scale: float) -> float:
    """A layer's ratio: the global ratio times its multiplier, at most MAX_LAYER_RATIO, on a 0.01 grid."""
    return min(MAX_LAYER_RATIO, round(float(ratio) * float(scale), 2))


def effective(p: dict) -> dict:
    """The compression a trial's parameters stand for (equal dicts: the same compression). ``layer_ratios``:
    each prunable layer's own ratio, for the methods that prune each layer by its own share (qp-snn, l1) when
    the space has per-layer multipliers; None otherwise."""
    from .compress.pipeline import PER_LAYER, PRUNING
    m = p["method"]
    e = {"method": m, "ratio": float(p["ratio"]) if m in PRUNING else None,
         "bits": int(p["bits"]) if m == "qp-snn" else None, "epochs": int(p["epochs"]),
         "timesteps": int(p["timesteps"])}
    if m == "criticality-unstructured":
        e["epochs"] = max(1, e["epochs"])  # it prunes during training
    if p.get("scales") and m in PER_LAYER:
        e["layer_ratios"] = {n: layer_ratio(p["ratio"], s) for n, s in p["scales"].items()}
    return e


def run_trial(ck, data, data_spec: str, eff: dict, cfg: SweepConfig, out_path: Path, stage: str = "") -> dict:
    """Compress → save (atomic) → load → simulate on every profile; the trial's record."""
    from .cli_compress import _meta
    from .compress.pipeline import compress, save_compressed
    from .data import model_inputs
    from .frontends.load import load
    from .report.build import build_report
    T = eff["timesteps"]
    res = compress(ck.model, data, eff["method"], ratio=eff["ratio"], bits=eff["bits"],
                   finetune_epochs=eff["epochs"], T=T, seed=cfg.seed, progress=False, measure_spikes=False,
                   measure_samples=cfg.samples, layer_ratios=eff.get("layer_ratios"))
    from .util.faults import fault_point
    fault_point(stage)  # tests: kill a sweep mid-trial (SNN2HW_TEST_FAULT_AT=sweep:trial<k>)
    comp = {"method": eff["method"], "ratio": eff["ratio"], "layer_ratios": eff.get("layer_ratios"),
            "bits": eff["bits"], "steps": res.steps,
            "before": res.before, "after": res.after, "source": Path(cfg.checkpoint).name}
    save_compressed(out_path, res.model, **_meta(ck, data, data_spec, timesteps=T,
                                                 metrics={"test_accuracy": res.after["accuracy"]},
                                                 compression=comp))
    g = load(out_path)
    for n in g.inputs:
        if g.nodes[n].step is None and data.input_step:
            g.nodes[n].step = float(data.input_step)
    x, y, _ = model_inputs(g, data, cfg.samples, T)
    rep = build_report(g, x, cfg.profiles, labels=y, source=out_path.name, data_name=data_spec)
    return summarise(rep, out_path)


def summarise(rep: dict, ckpt_path=None) -> dict:
    """The numbers a sweep keeps from a report (also what a re-measure by ``snn2hw simulate`` compares)."""
    acc = rep.get("accuracy") or {}
    per = {}
    for r in rep["runs"]:
        lat = r["latency_ns"]
        per[r["profile"]] = {"int_accuracy": acc.get(f"int ({r['profile']})"),
                             "energy_pj_per_sample": modelled_energy(r),
                             "latency_ns_per_input_step": lat.get("per_input_step"),
                             "cores": r.get("cores_used"), "chips": r.get("chips"), "fits": r.get("fits"),
                             "violations": len(r.get("violations") or [])}
    out = {"float_accuracy": acc.get("float"), "profiles": per}
    if ckpt_path is not None:
        out["checkpoint"] = str(Path(ckpt_path).name)
        out["sha256"] = _sha256(ckpt_path)  # the file's bytes (pickle memo layout may differ between processes)
        out["weights_sha256"] = weights_sha256(ckpt_path)  # its tensors: equal whenever the weights are
    return out


def modelled_energy(run: dict):
    """A report run's total energy per sample, or None ("not modelled") when the profile prices none of its
    energy classes: the report then has every class null but ``interchip`` (0 on one chip), and a ``total`` of
    0.0 that is no energy figure (e.g. ``speck``, which publishes no per-event energy)."""
    e = run.get("energy_pj_per_sample") or {}
    if all(v is None for k, v in e.items() if k not in ("total", "interchip")):
        return None
    return e.get("total")


def weights_sha256(path) -> str:
    """sha256 over the checkpoint's per-tensor sha256 (name-sorted), independent of how the file was pickled."""
    from .frontends.checkpoint import load_checkpoint
    from .frontends.checkpoint import tensor_sha256
    state = load_checkpoint(path).model.state_dict()
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(f"{k}:{tensor_sha256(state[k].detach().cpu())}\n".encode())
    return h.hexdigest()


def objectives(rec: dict, first: str) -> list:
    """The values Optuna minimises/maximises; a figure the profile does not model (None) is a constant 0 for
    every trial (it steers nothing); pareto.json records it as null (:func:`records`)."""
    f = rec["profiles"][first]
    return [float(f["int_accuracy"] or 0.0), float(f["energy_pj_per_sample"] or 0.0),
            float(f["latency_ns_per_input_step"] or 0.0), float(f["cores"] or 0)]


def constraints(rec: dict) -> list:
    return [0.0 if v["fits"] in (True, None) else float(max(1, v["violations"])) for v in rec["profiles"].values()]


# ----------------------------------------------------------------------------- the study
def population(cfg: SweepConfig) -> int:
    return int(cfg.population) if cfg.population else max(2, min(10, int(cfg.trials) // 3))


def _sampler(seed: int, k: int, pop: int = 4):
    import optuna
    # NSGA-II (NSGA-III is its many-objective successor; for four objectives NSGA-II's crowding still works)
    # constraints: Trial.set_constraint (the Optuna 5 way; constraints_func is deprecated there)
    return optuna.samplers.NSGAIISampler(seed=(int(seed) * 1_000_003 + int(k)) % (2 ** 32), population_size=pop)


def _finished(study, duplicates: bool = False) -> list:
    """Finished trials, without the interrupted ones, and without the skipped duplicates unless asked."""
    return [t for t in study.get_trials(deepcopy=False)
            if t.state.is_finished() and not t.user_attrs.get(INTERRUPTED)
            and (duplicates or DUPLICATE not in t.user_attrs)]


def mark_interrupted(storage, study) -> int:
    """Trials a killed process left RUNNING: tagged ``interrupted`` and set FAIL. Only called by the one
    process that owns the sweep (local serial runs)."""
    from optuna.trial import TrialState
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, INTERRUPTED, True)
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    return n


def _recorded(t, first) -> dict:
    """A trial's objectives as pareto.json records them: energy and latency that the first profile does not
    model (null in the trial's result) are null, not the 0 Optuna was told."""
    obj = dict(zip(OBJECTIVES, t.values))
    res = ((t.user_attrs.get("result") or {}).get("profiles") or {}).get(first) or {}
    for k in ("energy_pj_per_sample", "latency_ns_per_input_step"):
        if k in res and res[k] is None:
            obj[k] = None
    return obj


def records(study, first: Optional[str] = None) -> list:
    """Finished trials as pareto.json records them (``first``: the profile the objectives are taken on)."""
    from optuna.trial import TrialState
    out = []
    for t in _finished(study):
        out.append({"number": t.number, "state": t.state.name, "params": dict(t.params),
                    "effective": t.user_attrs.get("effective"), "objectives": _recorded(t, first)
                    if t.values else None, "constraints": t.user_attrs.get("constraints"),
                    "fits": all(c <= 0 for c in t.user_attrs.get("constraints") or [1]) if t.state == TrialState.COMPLETE
                    else None, "result": t.user_attrs.get("result"), "error": t.user_attrs.get("error")})
    return out


def dominates(a: list, b: list) -> bool:
    """Objective vectors in OBJECTIVES' directions (first maximised); an objective that either vector lacks
    (None: not modelled) is left out of the comparison, never counted as the best value."""
    keep = [i for i, (x, y) in enumerate(zip(a, b)) if x is not None and y is not None]
    sa = [-a[i] if i == 0 else a[i] for i in keep]
    sb = [-b[i] if i == 0 else b[i] for i in keep]
    return all(x <= y for x, y in zip(sa, sb)) and any(x < y for x, y in zip(sa, sb))


def front(recs: list, key=None) -> list:
    """Numbers of the feasible non-dominated trials (all four objectives, or ``key(rec) -> vector``)."""
    key = key or (lambda r: [r["objectives"][k] for k in OBJECTIVES])
    ok = [r for r in recs if r["objectives"] and r["fits"]]
    return [r["number"] for r in ok if not any(dominates(key(o), key(r)) for o in ok if o is not r)]


def _set_constraints(trial, cfg: SweepConfig, values: list) -> None:
    if hasattr(trial, "set_constraint"):  # Optuna >= 5
        for i, v in enumerate(values):
            trial.set_constraint(f"fits_{i}", v)
    else:  # older Optuna: the key its samplers read
        trial.storage.set_trial_system_attr(trial._trial_id, "constraints", list(values))


def _write_outputs(out: Path, cfg: SweepConfig, study) -> dict:
    from .report.pareto_html import pareto_html
    from .util.atomic import write_text
    first = cfg.profiles[0]
    recs = records(study, first)
    doc = {"schema": "snn2hw-sweep", "version": 1, "config": cfg.to_dict(), "study": STUDY,
           "objectives": [{"name": f"{k} ({first})" if k != "int_accuracy" else f"int_accuracy ({first})",
                           "direction": d} for k, d in zip(OBJECTIVES, DIRECTIONS)],
           "constraint": "fits every profile (constraints <= 0)",
           "baseline": study.user_attrs.get("baseline"), "trials": recs, "front": front(recs)}
    write_text(out / "pareto.json", json.dumps(doc, indent=1, allow_nan=False) + "\n")
    write_text(out / "pareto.html", pareto_html(doc))
    return doc


def prepare(cfg: SweepConfig, out_dir, resume: bool = False):
    """Every check before anything is written: the space, the checkpoint and data, the folder, the storage.
    Returns ``(cfg, storage, (ck, data))``."""
    from .cli_compress import _load
    out = Path(out_dir)
    if resume:
        conf = out / CONFIG
        if not conf.is_file():
            raise SweepError(f"--resume {out}: no {CONFIG} there (not a sweep folder)")
        if cfg is None:
            try:
                cfg = SweepConfig(**json.loads(conf.read_text()))
            except (ValueError, TypeError) as e:
                raise SweepError(f"{conf}: not a sweep configuration ({e})") from None
    else:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise SweepError(f"--out {out}: exists and is not an empty folder (continue a sweep with "
                             f"'snn2hw sweep --resume {out}')")
    check_config(cfg)
    ck, data = _load(cfg.checkpoint, cfg.data)
    if cfg.storage is not None:  # a user URL: opened before the folder is made
        storage = open_storage(cfg.storage)
        out.mkdir(parents=True, exist_ok=True)
    else:
        out.mkdir(parents=True, exist_ok=True)
        storage = open_storage(storage_url(out, None))
    return cfg, storage, (ck, data)


def run_sweep(cfg: Optional[SweepConfig], out_dir, resume: bool = False, log: Callable = print, progress: bool = True,
              stop_after: Optional[int] = None, workers: int = 1, ray: Optional[str] = None) -> dict:
    """Run (or continue: ``resume``, the configuration read from ``out_dir``) the sweep; write pareto.json and
    pareto.html after every trial; return pareto.json's dict (``cfg`` None with ``resume``: the recorded one).
    ``stop_after``: run at most this many trials now; ``workers``: trials of one NSGA-II generation evaluated in
    that many local processes (the same trials as a serial run; this process alone writes the storage);
    ``ray``: a Ray cluster's address ("auto", host:port, ray://host:port, "local"; or a Ray this process already
    initialised): each generation's trials run as Ray tasks, again the same trials."""
    if int(workers) < 1:
        raise SweepError(f"--workers must be >= 1, got {workers}")
    import warnings
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        return _run(cfg, Path(out_dir), resume, log, progress, stop_after, int(workers), ray)


def _evaluate(ck, data, cfg, eff, path, stage):
    """``(record, None)`` or ``(None, error text)``: a trial that raises fails, the sweep goes on."""
    t0 = time.perf_counter()
    try:
        rec = run_trial(ck, data, cfg.data, eff, cfg, Path(path), stage=stage)
    except Exception as e:  # noqa: BLE001 - e.g. a layer that would lose every channel: this point fails
        return None, (str(e) if isinstance(e, Snn2hwError) else f"{type(e).__name__}: {e}")[:500]
    rec["seconds"] = round(time.perf_counter() - t0, 2)
    return rec, None


_WORKER = {}


def _pool_trial(ckpt_bytes: bytes, cfg_dict: dict, eff: dict, name: str, stage: str):
    """One trial as a pool job (:mod:`snn2hw.util.pool`: a local worker process or a Ray task): the checkpoint
    arrives as bytes (no shared file system needed) and is loaded once per process; the trial's checkpoint goes
    back as bytes with its record, and the driver writes it under DIR/trials/. ``(record, error, bytes)``."""
    import tempfile
    from .cli_compress import _load
    cfg = SweepConfig(**cfg_dict)
    key = hashlib.sha256(ckpt_bytes).hexdigest() + cfg.data
    if _WORKER.get("key") != key:
        d = Path(tempfile.mkdtemp(prefix="snn2hw-sweep-"))
        src = d / Path(cfg.checkpoint).name
        src.write_bytes(ckpt_bytes)
        _WORKER["ck"], _WORKER["data"] = _load(src, cfg.data)
        _WORKER["key"] = key
    with tempfile.TemporaryDirectory(prefix="snn2hw-trial-") as t:
        path = Path(t) / name
        rec, err = _evaluate(_WORKER["ck"], _WORKER["data"], cfg, eff, path, stage)
        return rec, err, (path.read_bytes() if err is None else None)


def connect_ray(address: str):
    """Connect to an existing Ray cluster (or use the one this process already started); an unreachable address
    or a missing ray is a SweepError, before anything is written."""
    try:
        import ray
    except ImportError:
        raise SweepError("--ray needs Ray: pip install 'snn2hw[ray]'") from None
    if ray.is_initialized():
        return ray
    addr = str(address)
    hostport = addr.split("://", 1)[-1]
    if addr not in ("auto", "local") and ":" in hostport:
        import socket
        host, _, port = hostport.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except (OSError, ValueError) as e:
            raise SweepError(f"--ray {address}: cannot reach it ({e})") from None
    try:
        if addr == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=addr, log_to_driver=False)
    except Exception as e:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError...
        raise SweepError(f"--ray {address}: cannot connect ({type(e).__name__}: {str(e).splitlines()[0][:300]})") \
            from None
    return ray


def _generation_room(study, trial, pop: int) -> int:
    """How many more trials NSGA-II's generation of ``trial`` takes (it has ``pop`` COMPLETE ones when full)."""
    from optuna.trial import TrialState
    key = "NSGAIISampler:generation"
    g = study._storage.get_trial_system_attrs(trial._trial_id).get(key)
    if g is None:
        return pop
    n = sum(1 for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.system_attrs.get(key) == g)
    return max(1, pop - n)


def _propose(study, cfg: SweepConfig, T0: int, want: int, done: int, layers=()) -> list:
    """Ask up to ``want`` new (non-duplicate) trials of one NSGA-II generation: ``[(trial, effective)]``.

    The k-th proposal's sampler is seeded by ``(seed, k)``, k counting every earlier proposal (skipped
    duplicates too, interrupted ones not); a proposal equal to an earlier trial's compression is told FAIL
    (tagged, not counted). Proposals of one generation depend on its parents and k only, not on each other's
    results, so asking them together (``--workers``) gives the trials a serial run asks one by one."""
    from optuna.trial import TrialState
    batch = []
    while len(batch) < want:
        seen = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(INTERRUPTED)]
        study.sampler = _sampler(cfg.seed, len(seen), population(cfg))
        trial = study.ask()
        eff = effective(suggest(trial, cfg, T0, layers))
        trial.set_user_attr("effective", eff)
        same = next((t.number for t in seen if DUPLICATE not in t.user_attrs
                     and t.user_attrs.get("effective") == eff), None)
        streak = 0
        for t in reversed(seen):
            if DUPLICATE not in t.user_attrs:
                break
            streak += 1
        if same is not None and streak < MAX_DUPLICATES:  # the same compression again: skipped, not counted
            trial.set_user_attr(DUPLICATE, same)
            _set_constraints(trial, cfg, [1.0] * len(cfg.profiles))
            study.tell(trial, state=TrialState.FAIL)
            continue
        if not batch:
            want = min(want, _generation_room(study, trial, population(cfg)))
        batch.append((trial, eff))
    return batch


def _run(cfg, out, resume, log, progress, stop_after, workers: int = 1, ray_address: Optional[str] = None) -> dict:
    import torch
    from .util.pool import open_pool
    # opened first: an unreachable --ray fails before anything is written, local workers import meanwhile; the
    # workers take this process's torch threads, so their float sums split as a serial run's do
    pool = open_pool(workers, ray_address, threads=torch.get_num_threads())
    try:
        return _run_trials(cfg, out, resume, log, progress, stop_after, pool)
    finally:
        pool.close()


def _run_trials(cfg, out, resume, log, progress, stop_after, pool) -> dict:
    """The sweep's loop: each NSGA-II generation's trials proposed here, evaluated on ``pool``
    (:func:`snn2hw.util.pool.open_pool`; a serial pool evaluates in this process), told to the study here."""
    import optuna
    from optuna.trial import TrialState
    from .util.atomic import write_bytes, write_text
    from .util.pool import RayPool, SerialPool
    cfg, storage, (ck, data) = prepare(cfg, out, resume)
    try:
        study = optuna.create_study(study_name=STUDY, storage=storage, directions=list(DIRECTIONS),
                                    load_if_exists=True, sampler=_sampler(cfg.seed, 0, population(cfg)))
    except Exception as e:  # noqa: BLE001
        raise SweepError(f"storage {storage_url(out, cfg.storage)}: cannot create the study ({e})") from None
    if cfg.population is None:  # fixed when the sweep starts: a resume with more --trials keeps it
        cfg.population = population(cfg)
    write_text(out / CONFIG, json.dumps(cfg.to_dict(), indent=1) + "\n")
    if resume:
        n = mark_interrupted(storage, study)
        if n:
            log(f"{n} trial(s) interrupted by the previous process: run again")
    T0 = int(ck.info.get("timesteps") or 4)
    from .compress.pipeline import prunable_groups
    layers = prunable_groups(ck.model) if cfg.per_layer else []
    if study.user_attrs.get("baseline") is None:
        from .data import model_inputs
        from .frontends.load import load
        from .report.build import build_report
        g = load(cfg.checkpoint)
        for nm in g.inputs:
            if g.nodes[nm].step is None and data.input_step:
                g.nodes[nm].step = float(data.input_step)
        x, y, _ = model_inputs(g, data, cfg.samples, T0)
        base = summarise(build_report(g, x, cfg.profiles, labels=y, source=Path(cfg.checkpoint).name,
                                      data_name=cfg.data))
        base["sha256"] = _sha256(cfg.checkpoint)
        study.set_user_attr("baseline", base)
    done = len(_finished(study))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.trials, initial=done, desc="sweep", unit="trial")
    ran = 0
    doc = _write_outputs(out, cfg, study)
    if bar is not None:
        bar.set_postfix(front=len(doc["front"]))
    ck_bytes = None if type(pool) is SerialPool else Path(cfg.checkpoint).read_bytes()
    try:
        while done < cfg.trials and (stop_after is None or ran < stop_after):
            width = population(cfg) if isinstance(pool, RayPool) else pool.size
            want = min(cfg.trials - done, width if stop_after is None else min(width, stop_after - ran))
            batch = _propose(study, cfg, T0, want, done, layers)
            jobs = [(eff, str(out / "trials" / f"trial_{done + i:04d}.pt"), f"sweep:trial{done + i}")
                    for i, (_, eff) in enumerate(batch)]
            if ck_bytes is None:   # this process: the checkpoint and data already loaded
                results = [_evaluate(ck, data, cfg, *job) for job in jobs]
            else:
                results = []
                for (eff, path, stage), (rec, err, blob) in zip(jobs, pool.map(
                        _pool_trial, [(ck_bytes, cfg.to_dict(), eff, Path(path).name, stage)
                                      for eff, path, stage in jobs])):
                    if err is None:
                        write_bytes(path, blob)
                    results.append((rec, err))
            for (trial, _), (rec, err) in zip(batch, results):
                if err is not None:
                    trial.set_user_attr("error", err)
                    trial.set_user_attr("constraints", [1.0] * len(cfg.profiles))
                    _set_constraints(trial, cfg, [1.0] * len(cfg.profiles))
                    study.tell(trial, state=TrialState.FAIL)
                else:
                    trial.set_user_attr("result", rec)
                    trial.set_user_attr("constraints", constraints(rec))
                    _set_constraints(trial, cfg, constraints(rec))
                    study.tell(trial, objectives(rec, cfg.profiles[0]))
                done += 1
                ran += 1
                doc = _write_outputs(out, cfg, study)
                if bar is not None:  # trial count, the front's size and tqdm's ETA (remaining time) on one line
                    bar.set_postfix(front=len(doc["front"]), refresh=False)
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return doc
