"""Test-suite settings: hypothesis runs a fixed, derandomized set of examples so CI is reproducible;
the ``lava_env`` fixture shared by every test that runs the real Lava."""
import os

import pytest
from hypothesis import settings

settings.register_profile("snn2hw", derandomize=True, print_blob=True)
settings.load_profile("snn2hw")


@pytest.fixture(scope="session")
def lava_env():
    """The Lava interpreter (``.venv-lava``, or ``SNN2HW_LAVA_PYTHON``). Missing: the test FAILS loudly,
    or is skipped with a loud reason when ``SNN2HW_ALLOW_NO_LAVA=1``."""
    from snn2hw.exporters import lava as lx
    py = lx.lava_python()
    if py.exists() and os.access(py, os.X_OK):
        return py
    msg = (f"The Lava environment is missing: {py} does not exist. Run `make lava-venv` "
           f"(needs Python 3.10); tests against the real Lava cannot run without it.")
    if os.environ.get("SNN2HW_ALLOW_NO_LAVA") == "1":
        pytest.skip("LAVA NOT TESTED (SNN2HW_ALLOW_NO_LAVA=1): " + msg)
    pytest.fail(msg + " (set SNN2HW_ALLOW_NO_LAVA=1 to skip)", pytrace=False)
