"""Training and evaluation loops."""
from .loop import OPTIMIZERS, History, evaluate, time_mean_logits, train
from .recipes import RECIPES, recipe

__all__ = ["train", "evaluate", "time_mean_logits", "History", "OPTIMIZERS", "RECIPES", "recipe"]
