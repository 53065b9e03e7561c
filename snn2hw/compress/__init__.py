"""Compression: criticality scores, unstructured pruning-regeneration and masks (ALGORITHMS §2)."""
from .criticality import (CriticalityMeter, aggregate, channel_criticality, collect, neuron_modules,
                          rank_desc, synapse_owners, synapse_scores)
from .masks import (MaskKeeper, add_masks, add_masks_from_state_dict, apply_masks, get_masks,
                    layer_sparsity, masked_layers, prunable_layers, remove_masks, set_mask, sparsity)
from .unstructured import (REGEN, PruneHistory, PruneSchedule, cubic_sparsity, global_magnitude_masks,
                           magnitude_prune, make_schedule, prune_during_training, prune_step, regrow)

__all__ = [
    "CriticalityMeter", "collect", "channel_criticality", "aggregate", "neuron_modules", "rank_desc",
    "synapse_owners", "synapse_scores",
    "MaskKeeper", "add_masks", "add_masks_from_state_dict", "apply_masks", "get_masks", "layer_sparsity",
    "masked_layers", "prunable_layers", "remove_masks", "set_mask", "sparsity",
    "REGEN", "PruneHistory", "PruneSchedule", "cubic_sparsity", "global_magnitude_masks", "magnitude_prune",
    "make_schedule", "prune_during_training", "prune_step", "regrow",
]
