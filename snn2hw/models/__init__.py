"""Built-in SNN architectures: ``build_model(name, **kwargs)``, ``list_models()``."""
from . import convnets, mlp, resnets  # noqa: F401  (registration)
from .neuron_factory import NEURON_KINDS, NEURON_KWARGS, neuron_factory
from .registry import UnknownModelError, build_model, describe_models, list_models, model_kwargs, register_model
from .resnets import BasicBlock, SpikingResNet

__all__ = ["build_model", "describe_models", "list_models", "model_kwargs", "register_model", "UnknownModelError",
           "neuron_factory", "NEURON_KINDS", "NEURON_KWARGS", "BasicBlock", "SpikingResNet"]
