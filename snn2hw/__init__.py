"""snn2hw: deploy trained spiking neural networks to neuromorphic hardware."""
__version__ = "0.1.0"
