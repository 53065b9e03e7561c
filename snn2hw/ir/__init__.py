"""The snn2hw intermediate representation: typed nodes, the Graph, and the .s2h file format."""
from snn2hw.ir.nodes import (Input, Dense, Conv2d, SumPool2d, AvgPool2d, BatchNorm, Flatten, Add, Neuron,
                             Output, Node, NODE_TYPES, SYNAPSES)
from snn2hw.ir.graph import Graph
from snn2hw.ir.io import save_graph, load_graph, FORMAT_VERSION

__all__ = ["Input", "Dense", "Conv2d", "SumPool2d", "AvgPool2d", "BatchNorm", "Flatten", "Add", "Neuron",
           "Output", "Node", "NODE_TYPES", "SYNAPSES", "Graph", "save_graph", "load_graph", "FORMAT_VERSION"]
