"""How a chip runs a data set: N samples back to back, each layer reset when its first frame arrives.

Every synapse stage delays by one device step, so a population at synaptic depth ``d`` computes
frame ``f`` of sample ``n`` at device step ``tau0(n) + d + f``. A sample occupies ``S = T + D``
device steps (``D``: the deepest population): in its own *aligned* frames ``f = 0 .. S - 1`` a layer
integrates the sample's ``T`` input frames, then runs ``D`` *idle* frames with no new input from
the chip's inputs (its state keeps evolving: potential, bias, spikes still arriving from upstream
idle frames), until its state is cleared for the next sample. Because frame ``f`` of a population
only ever feeds frame ``f`` of the next, the samples are independent in aligned frames and can be
computed in a batch; only device-step quantities (latency, the cores busy in a step) mix the idle
frames of sample ``n`` with the first frames of sample ``n + 1``.

Two reset mechanisms (``reset``):

* ``"state"``: the chip clears a layer's state at the start of its frame 0, for free (Lava's
  ``LIFReset`` with ``reset_interval = S`` and ``reset_offset = d + 1``, what ``exporters/lava.py``
  runs). The run has ``N x S`` device steps.
* ``"neuron"``: a reset input neuron per depth spikes into every neuron of that depth with a large
  negative weight, so the layer's last idle frame ends below a reverse threshold and is reset to 0
  there (it does not fire in that frame, and is updated). It is how a simulator without a reset
  primitive runs the protocol (SANA-FE, ``exporters/sanafe.py``); the reset spikes cost messages and
  synaptic events like any other. Depth-1 layers are reset at the end of the very first step, so
  the run starts with one warm-up step: ``1 + N x S`` device steps.

The run's edges are simulated exactly: before sample 0 a layer at depth ``d`` runs ``d`` fill steps
(``d + 1`` with the warm-up) from zero state (a *virtual* sample of zero input in which only those
frames run), and the last sample's layer at depth ``d`` runs only ``S - d`` frames, because the run
ends when the deepest layer has computed the last sample's frame ``T - 1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESETS = ("state", "neuron")


@dataclass(frozen=True)
class RunProtocol:
    timesteps: int        # T: input frames per sample
    depth: int            # D: the deepest population's synaptic depth
    samples: int          # N
    reset: str = "state"  # "state" | "neuron"

    def __post_init__(self):
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")

    @property
    def frames(self) -> int:
        """``S = T + D``: aligned frames (and device steps) per sample."""
        return self.timesteps + self.depth

    @property
    def warmup(self) -> int:
        return 1 if self.reset == "neuron" else 0

    @property
    def steps(self) -> int:
        """Device steps of the whole run."""
        return self.warmup + self.samples * self.frames

    def tau0(self, n) -> np.ndarray:
        """Device step of sample ``n``'s frame 0 at depth 0 (``n = -1``: the virtual fill sample)."""
        return self.warmup + np.asarray(n) * self.frames

    def first_frame(self, n: np.ndarray, d: int) -> np.ndarray:
        """The first frame a population at depth ``d`` runs for samples ``n`` (only the virtual sample
        starts late: at the frame of device step 0)."""
        n = np.asarray(n)
        return np.where(n < 0, max(self.frames - self.warmup - d, 0), 0)

    def last_frame(self, n: np.ndarray, d: int) -> np.ndarray:
        """The last frame a population at depth ``d`` runs for samples ``n`` (the run's last step ends the
        last sample early)."""
        n = np.asarray(n)
        return np.where(n == self.samples - 1, self.frames - 1 - d, self.frames - 1)

    def forced_reset(self, n: np.ndarray) -> np.ndarray:
        """Samples whose last idle frame is the reset frame (``reset = 'neuron'``: every sample that is
        followed by another, the virtual one included)."""
        n = np.asarray(n)
        return (n < self.samples - 1) if self.reset == "neuron" else np.zeros(n.shape, dtype=bool)

    def reset_spike_steps(self, d: int) -> np.ndarray:
        """Device steps at which the reset neuron of depth ``d`` spikes (``reset = 'neuron'``): one step
        before the reset frame, whose soma integrates it."""
        if self.reset != "neuron":
            return np.zeros(0, dtype=np.int64)
        return self.tau0(np.arange(self.samples)) + d - 2

    def describe(self) -> str:
        T, D, S = self.timesteps, self.depth, self.frames
        how = ("each layer's state cleared at its frame 0 (Lava LIFReset)" if self.reset == "state" else
               "each layer reset by a reset neuron's spike in its last idle frame, after one warm-up step")
        return (f"{self.samples} samples back to back, S = T + D = {T} + {D} = {S} device steps each "
                f"({self.steps} in all); {how}; fill steps before the first sample and the last sample's "
                f"shortened drain simulated")
