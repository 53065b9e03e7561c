"""Test-suite settings: hypothesis runs a fixed, derandomized set of examples so CI is reproducible."""
from hypothesis import settings

settings.register_profile("snn2hw", derandomize=True, print_blob=True)
settings.load_profile("snn2hw")
