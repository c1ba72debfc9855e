"""Layer 4, analysis of trained or initial nets: EP-BP alignment, probes, state trajectories."""
