"""frecore: feedback-regulated residual RNNs trained by equilibrium propagation (Liu & Chen)."""
from __future__ import annotations

import os

__version__ = "0.1.0"


def load_model(path: str | os.PathLike, device: str = "cpu"):
    """A saved net (`train --save-model`, `run --save-models`) rebuilt from its stored config:
    `m = frecore.load_model(path)`; m.net, m.config, m.evaluate() (test accuracy, %)."""
    from frecore.training.saved import load_model as _load  # deferred: `import frecore` loads no torch

    return _load(path, device=device)
