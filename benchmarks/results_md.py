"""The markdown results file of ``compression.py``: mean ± std cells, claim verdicts, sections.

A verdict compares two methods' per-seed values in the direction a paper claims and says
plainly whether the claim holds in the means and whether the gap exceeds one standard
deviation (the larger of the two), so a reader sees at once what was and was not reproduced.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path


def ms(vals, fmt="{:.2f}", scale=1.0):
    """``mean ± std`` of ``vals`` (times ``scale``), or the single value."""
    v = [x * scale for x in vals]
    if len(v) == 1:
        return fmt.format(v[0])
    return f"{fmt.format(statistics.mean(v))} ± {fmt.format(statistics.stdev(v))}"


def _sd(v):
    return statistics.stdev(v) if len(v) > 1 else 0.0


def verdict(what: str, a_name: str, a_vals, b_name: str, b_vals, higher_is_better: bool = True,
            scale: float = 100.0, unit: str = " points", nd: int = 2) -> str:
    """One line saying whether ``a ≥ b`` (or ``a ≤ b`` when lower is better) holds for ``what``."""
    ma, mb = statistics.mean(a_vals) * scale, statistics.mean(b_vals) * scale
    gap = (ma - mb) if higher_is_better else (mb - ma)
    noise = max(_sd(a_vals), _sd(b_vals)) * scale
    nums = (f"{a_name} {ma:.{nd}f} vs {b_name} {mb:.{nd}f}, gap {gap:+.{nd}f}{unit}, "
            f"1 std = {noise:.{nd}f}")
    if gap > noise:
        word = "**holds**"
    elif gap >= 0:
        word = "holds in the means, **within one std**"
    elif -gap > noise:
        word = "**does not hold**"
    else:
        word = "does **not** hold in the means (within one std)"
    return f"{what}: {word} ({nums})"


class Report:
    """Sections of tables + verdicts, rewritten in full after every section (atomic enough for a
    benchmark: a cut run leaves the finished sections, marked partial)."""

    def __init__(self, path, argv, seeds, data: str, threads: int, header_text: str, model: str = "digits_conv"):
        self.path, self.argv, self.seeds, self.model = Path(path), argv, seeds, model
        self.data, self.threads, self.header_text = data, threads, header_text
        self.sections = []
        self.t0 = time.time()

    def add(self, title, note, header, rows, verdicts=()):
        self.sections.append((title, note, header, rows, list(verdicts)))

    def write(self, done: bool) -> None:
        status = "complete" if done else "**PARTIAL**: the run was cut short; only the sections below finished"
        lines = [f"# Compression results ({self.data}, `{self.model}`)", "",
                 f"Made by `{self.argv}` ({status}; {time.time() - self.t0:.0f} s on a 2-core machine, "
                 f"{self.threads} torch thread(s)). Seeds {self.seeds}; mean ± std over the seeds. "
                 + self.header_text, "", "## Verdicts (each paper's claim, in direction)", ""]
        for title, _, _, _, verdicts in self.sections:
            lines += [f"- {title.split('.')[0]}. {v}" for v in verdicts]
        lines.append("")
        for title, note, header, rows, verdicts in self.sections:
            lines += [f"## {title}", "", note, ""]
            if header:
                lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
                lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
                lines.append("")
            if verdicts:
                lines += [f"- {v}" for v in verdicts] + [""]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(lines))
