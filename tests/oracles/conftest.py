"""Worst cases of the oracle comparisons, printed at the end of the test session."""
from __future__ import annotations

from tests.helpers.oracle_table import WORST


def pytest_terminal_summary(terminalreporter):
    if not WORST.rows:
        return
    tr = terminalreporter
    tr.section("SANA-FE oracle: worst relative deviation per quantity")
    tr.write_line(f"{'quantity':28s} {'worst':>10s} {'tolerance':>10s}  where")
    for q, (dev, tol, where) in sorted(WORST.rows.items()):
        tr.write_line(f"{q:28s} {dev:10.3%} {tol:10.0%}  {where}")
    for n in WORST.notes:
        tr.write_line(n)
