"""Registry: each paper table -> its rows, each row -> a complete run config and the paper's value.

`registry` holds the machinery (rows, profiles, run ids, plan), `common` the row builders several
tables share, and every other module of this package one table or figure family, found on import
by `discover` (adding a table is one module here plus one notebook: docs/extending.md). The
public API is re-exported here; importing it loads no torch (rows are built when asked for).
"""
from __future__ import annotations

from frecore.experiments.common import (ADAM_MNIST, FIG_BETAS, conv_mnist, deep64, graph_code, layered64,
                                        layered_mnist)
from frecore.experiments.figS10 import AlignmentSetting, figS10_settings
from frecore.experiments.registry import (EXPERIMENTS, PROFILES, READINGS, Experiment, PaperResult,
                                          PlannedRun, Profile, Row, Setting, check_variant, discover,
                                          get_experiment, get_rows, list_experiments, plan,
                                          register_experiment, run_id, selection, unregister)

__all__ = ["ADAM_MNIST", "EXPERIMENTS", "FIG_BETAS", "PROFILES", "READINGS", "AlignmentSetting", "Experiment",
           "PaperResult", "PlannedRun", "Profile", "Row", "Setting", "check_variant", "conv_mnist", "deep64",
           "discover", "figS10_settings", "get_experiment", "get_rows", "graph_code", "layered64",
           "layered_mnist", "list_experiments", "plan", "register_experiment", "run_id", "selection",
           "unregister"]

discover(__name__)
