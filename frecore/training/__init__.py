"""Layer 3, training: data on the device, fit (optimiser, checkpoints, divergence), resource checks.
Imports config, model and rules."""
