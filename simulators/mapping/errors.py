"""The mapping's error: a graph structure it cannot place."""
from __future__ import annotations

from snn2hw.errors import Snn2hwError


class MappingError(Snn2hwError):
    """The graph has a structure the mapper cannot place (the message says which node and why)."""
