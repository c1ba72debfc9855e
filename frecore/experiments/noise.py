"""Figures S12-S13: robustness to Gaussian weight and state noise (2, 3, 5 hidden layers)."""
from __future__ import annotations

from dataclasses import replace

from frecore.config import NoiseConfig
from frecore.experiments.common import layered64
from frecore.experiments.registry import Row, Setting, register_experiment


NOISE_WEIGHT_STDS = (0.0, 0.01, 0.1)  # the paper: fine up to 0.01 (mean |w| is about 0.09)
NOISE_STATE_STDS = (0.0, 0.1, 1.0)  # the paper: fine up to 0.1 (mean |s| is about 0.76)


STATE_NOISE_TEXT = Setting(
    "state noise model", "'time-varying noise ... at each state update': a fresh draw at every step of both "
                         "phases",
    "unknown: the figure's notebooks are unreadable in the repository", "(Figure S12's notebooks)",
    "measured here: fresh noise at every step costs 2-layer nets ~22 points at std 0.1; one draw per batch "
    "kept through both phases keeps the paper's tolerance. Both run: the '2HL-64 (one draw per batch)' panel",
    ours="text")


def _noise_rows(in_training: bool) -> list[Row]:
    """The weight x state noise grid at 2, 3 and 5 layers; for Figure S12 also the 2-layer grid under
    the other state-noise model (one draw per batch, kept through both phases)."""
    rows = []
    panels = [(d, "fresh") for d in (2, 3, 5)] + ([(2, "batch")] if in_training else [])
    for depth, model in panels:
        for w in NOISE_WEIGHT_STDS:
            for st in NOISE_STATE_STDS:
                if model == "batch" and st == 0:
                    continue  # no state noise: the same run as the fresh model's
                cfg = replace(layered64(depth, 0.1 if depth > 4 else 0.01),
                              noise=NoiseConfig(weight_std=w, state_std=st,
                                                state_noise_in_training=in_training, state_noise_model=model))
                suffix, arch = ("", f"{depth}HL-64") if model == "fresh" else \
                    (" noise=batch", f"{depth}HL-64 (one draw per batch)")
                rows.append(Row(f"{depth}HL weight={w:g} state={st:g}{suffix}", arch,
                                f"weight={w:g}, state={st:g}", cfg, None, quick_epochs=3,
                                provenance=(STATE_NOISE_TEXT,) if in_training and st > 0 else (),
                                coords={"depth": depth, "weight_std": w, "state_std": st}))
    return rows


@register_experiment(plot="noise_heatmaps")
def figS12() -> list[Row]:
    """Figure S12: weight noise at every update and state noise at every step, in training and test."""
    return _noise_rows(in_training=True)


@register_experiment(plot="noise_heatmaps")
def figS13() -> list[Row]:
    """Figure S13: weight noise in training, state noise at test time only."""
    return _noise_rows(in_training=False)
