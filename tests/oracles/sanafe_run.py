"""Run an ``snn2hw export --format sanafe`` folder in SANA-FE and print its results as JSON.

Executed by the SANA-FE environment's interpreter (``.venv-sanafe/bin/python``, made by ``make
sanafe-venv``), never imported by snn2hw: SANA-FE is GPL-3 and runs beside us as an oracle.

    python sanafe_run.py DIR OUT.json [--models simple,detailed] [--senders]

``DIR`` holds ``net.yaml``, ``expected.json`` (for the number of device steps) and, for profiles
other than loihi, ``arch.yaml``. Each timing model runs on a fresh chip. ``--senders`` also counts,
from SANA-FE's message trace, the distinct (step, neuron) senders per group (the spikes of every
neuron that has a destination).
"""
import json
import sys
import time
from pathlib import Path

import sanafe


def main(argv):
    d, dest = Path(argv[0]), Path(argv[1])
    models = ["simple", "detailed"]
    senders = "--senders" in argv
    if "--models" in argv:
        models = argv[argv.index("--models") + 1].split(",")
    steps = int(json.loads((d / "expected.json").read_text())["timesteps"])
    arch = sanafe.load_arch(str(d / "arch.yaml")) if (d / "arch.yaml").exists() else sanafe.load_loihi()
    t0 = time.perf_counter()
    net = sanafe.load_net(str(d / "net.yaml"), arch)
    out = {"load_s": time.perf_counter() - t0, "timesteps": steps, "models": {}}
    for i, m in enumerate(models):
        chip = sanafe.SpikingChip(arch)
        chip.load(net)
        t0 = time.perf_counter()
        trace = senders and i == 0
        r = chip.sim(steps, timing_model=m, message_trace=trace)
        wall = time.perf_counter() - t0
        res = {k: r[k] for k in ("energy", "sim_time", "spikes", "packets_sent", "neurons_updated", "neurons_fired",
                                 "timesteps_executed")}
        res["wall_s"] = wall
        out["models"][m] = res
        if trace:
            seen = {}
            for step in r["message_trace"]:
                for msg in step:
                    if msg["placeholder"]:
                        continue
                    key = (msg["timestep"], msg["src_neuron_group_id"], msg["src_neuron_offset"])
                    seen[key] = 1
            counts = {}
            for _, g, _ in seen:
                counts[g] = counts.get(g, 0) + 1
            out["senders"] = counts
            out["messages"] = sum(1 for step in r["message_trace"] for msg in step if not msg["placeholder"])
    dest.write_text(json.dumps(out))  # SANA-FE prints progress on stdout


if __name__ == "__main__":
    main(sys.argv[1:])
