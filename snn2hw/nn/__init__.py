"""Training-time spiking modules (time-major ``[T, B, ...]``): neurons, surrogates, layers,
activity regularizers."""
from .layers import TimeDistributed, ZeroPadShortcut
from .neurons import ATLIF, IF, LIF, NEURONS, CubaLIF, SpikingNeuron
from .regularizers import ActivityRegularizer, ar_loss, hoyer_loss, l1_rate_loss
from .surrogate import (ArcTan, Sigmoid, Surrogate, Triangle, get_surrogate, heaviside,
                        list_surrogates, spike, surrogate_derivative)

__all__ = [
    "TimeDistributed", "ZeroPadShortcut",
    "SpikingNeuron", "LIF", "IF", "CubaLIF", "ATLIF", "NEURONS",
    "Surrogate", "Triangle", "ArcTan", "Sigmoid", "get_surrogate", "list_surrogates",
    "surrogate_derivative", "heaviside", "spike",
    "ActivityRegularizer", "ar_loss", "l1_rate_loss", "hoyer_loss",
]
