"""Model registry: ``build_model(name, **kwargs)`` and ``list_models()``.

Every model built here carries ``arch`` (its registry name), ``arch_kwargs``
(the kwargs given, enough to rebuild it), ``input_shape`` (without T and B) and
``num_classes``. Models map ``[T, B, *input_shape]`` to ``[T, B, num_classes]``
readout currents (the last Linear has no neuron; the loss is CE of the time mean).
"""
from __future__ import annotations

import inspect
from typing import Callable, Dict

from torch import nn

from .neuron_factory import NEURON_KWARGS

_REGISTRY: Dict[str, Callable[..., nn.Module]] = {}


class UnknownModelError(KeyError, ValueError):
    """Raised for an architecture name that is not registered."""

    def __init__(self, name: str, valid):
        self.name = name
        self.valid = list(valid)
        super().__init__(f"unknown model architecture {name!r}; valid: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register_model(name: str):
    """Decorator: register ``fn(**kwargs) -> nn.Module`` under ``name``."""
    def deco(fn):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn
    return deco


def list_models() -> list:
    return sorted(_REGISTRY)


def model_kwargs(name: str) -> list:
    """The keyword arguments ``build_model(name, ...)`` accepts."""
    if name not in _REGISTRY:
        raise UnknownModelError(name, list_models())
    params = inspect.signature(_REGISTRY[name]).parameters
    own = [p for p, v in params.items() if v.kind is not inspect.Parameter.VAR_KEYWORD]
    return own + list(NEURON_KWARGS)


def describe_models() -> list:
    """Every built-in architecture with what ``build_model`` takes, for listings (``snn2hw models``):
    ``[{"name", "summary", "kwargs": [{"name", "default"}], "neuron_kwargs": [{"name", "default"}]}]``
    (``default`` is ``None`` for a required kwarg and the repr of the default otherwise)."""
    from .neuron_factory import neuron_factory

    def params(fn, skip=()):
        out = []
        for p, v in inspect.signature(fn).parameters.items():
            if v.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL) or p in skip:
                continue
            out.append({"name": p, "default": None if v.default is inspect.Parameter.empty else repr(v.default)})
        return out

    neuron = [p for p in params(neuron_factory) if p["name"] in NEURON_KWARGS]
    rows = []
    for name in list_models():
        fn = _REGISTRY[name]
        doc = inspect.getdoc(fn) or ""
        rows.append({"name": name, "summary": doc.split("\n\n")[0].replace("\n", " ").strip(),
                     "kwargs": params(fn), "neuron_kwargs": neuron})
    return rows


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered architecture; see each builder's docstring for its kwargs."""
    if name not in _REGISTRY:
        raise UnknownModelError(name, list_models())
    valid = model_kwargs(name)
    bad = sorted(set(kwargs) - set(valid))
    if bad:
        raise ValueError(f"model {name!r} got unknown argument(s) {bad}; valid: {', '.join(valid)}")
    model = _REGISTRY[name](**kwargs)
    model.arch = name
    model.arch_kwargs = dict(kwargs)
    for attr in ("input_shape", "num_classes"):
        if not hasattr(model, attr):  # pragma: no cover - builder bug
            raise RuntimeError(f"builder for {name!r} did not set {attr}")
    return model
