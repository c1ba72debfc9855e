"""Layer 6, sweeps: run an experiment's planned runs (resumably, here or on Ray), and the figures
computed directly (Figures 2 and S10)."""
