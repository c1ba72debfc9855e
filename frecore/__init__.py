"""frecore: feedback-regulated residual RNNs trained by equilibrium propagation (Liu & Chen)."""

__version__ = "0.1.0"
