"""Run ``snn2hw export --format sanafe`` folders in SANA-FE and write its results as JSON.

Executed by the SANA-FE environment's interpreter (``.venv-sanafe/bin/python``, made by ``make
sanafe-venv``), never imported by snn2hw: SANA-FE is GPL-3 and runs beside us as an oracle.

    python sanafe_run.py OUT.json DIR [DIR ...]

Each ``DIR`` holds ``net.yaml``, ``expected.json`` (for the number of device steps) and, for profiles
other than loihi, ``arch.yaml``. Both timing models run, each on a fresh chip (SANA-FE cannot load a
second network into a chip); all folders run in this one process, because the first chip of a
process takes seconds to build. The detailed run also records the message trace, from which the
distinct (step, neuron) senders are counted per group. ``OUT.json``: ``{DIR: {"models": {model:
{energy, sim_time, spikes, packets_sent, neurons_updated, neurons_fired, wall_s}}, "senders": {...},
"load_s": ...}}`` (SANA-FE prints its progress on stdout, so the results go to a file).
"""
import json
import sys
import time
from pathlib import Path

import sanafe

KEYS = ("energy", "sim_time", "spikes", "packets_sent", "neurons_updated", "neurons_fired", "timesteps_executed")


def run_one(d: Path) -> dict:
    steps = int(json.loads((d / "expected.json").read_text())["timesteps"])
    arch = sanafe.load_arch(str(d / "arch.yaml")) if (d / "arch.yaml").exists() else sanafe.load_loihi()
    t0 = time.perf_counter()
    net = sanafe.load_net(str(d / "net.yaml"), arch)
    out = {"load_s": time.perf_counter() - t0, "timesteps": steps, "models": {}}
    for m in ("detailed", "simple"):
        chip = sanafe.SpikingChip(arch)
        chip.load(net)
        t0 = time.perf_counter()
        r = chip.sim(steps, timing_model=m, message_trace=(m == "detailed"))
        res = {k: r[k] for k in KEYS}
        res["wall_s"] = time.perf_counter() - t0
        out["models"][m] = res
        if m == "detailed":
            seen = set()
            for step in r["message_trace"]:
                for msg in step:
                    if not msg["placeholder"]:
                        seen.add((msg["timestep"], msg["src_neuron_group_id"], msg["src_neuron_offset"]))
            counts = {}
            for _, g, _ in seen:
                counts[g] = counts.get(g, 0) + 1
            out["senders"] = counts
    return out


def main(argv):
    dest, dirs = Path(argv[0]), [Path(a) for a in argv[1:]]
    results = {str(d): run_one(d) for d in dirs}
    dest.write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
