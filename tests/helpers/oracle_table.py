"""The worst relative deviation per quantity of the oracle comparisons (printed by tests/oracles/conftest.py)."""
from __future__ import annotations


class _Worst:
    """The largest relative deviation per quantity, with its tolerance and where it happened."""

    def __init__(self):
        self.rows, self.notes = {}, []

    def record(self, quantity: str, deviation: float, tolerance: float, where: str):
        old = self.rows.get(quantity)
        if old is None or deviation > old[0]:
            self.rows[quantity] = (deviation, tolerance, where)

    def note(self, where: str, text: str):
        self.notes.append(f"{where}: {text}")


WORST = _Worst()
