"""Fixtures for the fault tests; the helpers are in ``faultkit.py``."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faultkit import CKPT  # noqa: E402


@pytest.fixture(scope="session")
def int_graph_file(tmp_path_factory):
    """The shipped example converted for loihi, as .s2h (export from it skips the conversion)."""
    import snn2hw
    p = tmp_path_factory.mktemp("s2h") / "digits_lif.s2h"
    return snn2hw.save_graph(snn2hw.convert(snn2hw.load(CKPT), profile="loihi").graph, p)
