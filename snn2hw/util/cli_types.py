"""Click parameter types for numeric options: finite numbers in a range, refused as usage errors (exit 2).

``click.FloatRange`` accepts ``nan`` (every comparison with it is false) and ``inf``;
these types refuse both, so ``--lr nan`` or ``--input-step inf`` never reach the work.
"""
from __future__ import annotations

import math

import click


class FiniteFloat(click.ParamType):
    """A finite float with optional bounds: ``lo < x`` (``lo <= x`` with ``lo_closed``) and ``x <= hi``."""

    name = "float"

    def __init__(self, lo: float | None = None, hi: float | None = None, lo_closed: bool = False):
        self.lo, self.hi, self.lo_closed = lo, hi, lo_closed

    def _range(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>=' if self.lo_closed else '>'} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"<= {self.hi:g}")
        return " and ".join(parts) or "finite"

    def get_metavar(self, param, ctx=None):  # noqa: D401 - click API
        return "FLOAT"

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value):
            x = value
        else:
            try:
                x = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number (need {self._range()})", param, ctx)
        if self.lo is not None and (x < self.lo or (x == self.lo and not self.lo_closed)):
            self.fail(f"{value!r} is out of range (need {self._range()})", param, ctx)
        if self.hi is not None and x > self.hi:
            self.fail(f"{value!r} is out of range (need {self._range()})", param, ctx)
        return x


#: a learning rate: finite, > 0 and at most 10 (a larger one only diverges)
LEARNING_RATE = FiniteFloat(lo=0.0, hi=10.0)
#: a positive finite step (the input lattice)
POSITIVE = FiniteFloat(lo=0.0)
#: a finite value >= 0 (weight decay, L1 strengths)
NON_NEGATIVE = FiniteFloat(lo=0.0, lo_closed=True)
#: a ratio in [0, 1)
RATIO = FiniteFloat(lo=0.0, hi=1.0, lo_closed=True)
#: a random seed: what torch and numpy both accept
SEED = click.IntRange(min=0, max=2**32 - 1)
